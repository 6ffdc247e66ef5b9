/** What the driver (bench/main.ts) and the measuring child (bench/child.ts) share. */

/** The namespace every case runs in (the driver creates it in each sandbox). */
export const NAMESPACE = 'bench';
