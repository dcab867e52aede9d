/** A failure the CLI reports as one line and exit code 1. */
export class CliError extends Error {}
