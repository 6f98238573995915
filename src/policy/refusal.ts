/** A call the policy does not let through: refused by the rules, or declined by the human. */
export class PolicyRefusal extends Error {
  constructor(
    message: string,
    readonly decision: 'refused' | 'declined' = 'refused',
  ) {
    super(message);
    this.name = 'PolicyRefusal';
  }
}
