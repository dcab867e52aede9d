/** Where a user logs in and looks at the pool in a browser: the service's own root (src/dashboard/). */
export function dashboardUrl(serviceUrl: string): string {
  return `${serviceUrl.replace(/\/+$/, '')}/`;
}
