// The shop's services, in one table: every list of services (the local stack, the gateways, the
// deployment generators, the build) is derived from it, so adding or renaming one is one edit.

export const SERVICE_TABLE = {
  order: { publicPrefix: "/orders" },
  stock: { publicPrefix: "/stock" },
  payment: { publicPrefix: "/payment" },
} as const satisfies Record<string, { publicPrefix: `/${string}` }>;

export type Service = keyof typeof SERVICE_TABLE;

/** Every service's name. */
export const SERVICES = Object.keys(SERVICE_TABLE) as Service[];

/** A record with one entry per service, made by `f`. */
export function perService<T>(f: (service: Service) => T): Record<Service, T> {
  return Object.fromEntries(SERVICES.map((service) => [service, f(service)])) as Record<Service, T>;
}

/** The path prefix the public gateway routes to a service (its API docs live under it too). */
export const publicPrefix = (service: Service): string => SERVICE_TABLE[service].publicPrefix;
