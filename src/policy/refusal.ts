/** A call the policy does not let through: refused by the rules, or declined by the human. */
export class PolicyRefusal extends Error {
  constructor(
    message: string,
    readonly decision: 'refused' | 'declined' = 'refused',
    /** What the audit log records when the message shows more than it should keep (a command's input). */
    readonly auditReason?: string,
  ) {
    super(message);
    this.name = 'PolicyRefusal';
  }
}
