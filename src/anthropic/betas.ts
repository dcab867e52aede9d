/** Adds betas to anthropic-beta, keeping the client's own and their order, without duplicates. */
export function mergeBetas(headers: Record<string, string>, ...betas: string[]): void {
  const current = headers['anthropic-beta'];
  if (!current) {
    headers['anthropic-beta'] = betas.join(',');
    return;
  }
  const list = current
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const beta of betas) if (!list.includes(beta)) list.push(beta);
  headers['anthropic-beta'] = list.join(',');
}
