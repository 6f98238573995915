// oidc-provider ships no types; the tests use its constructor and listen() only.
declare module 'oidc-provider' {
  export default class Provider {
    constructor(issuer: string, configuration: unknown);
    listen(port: number, host: string): import('node:http').Server;
  }
}
