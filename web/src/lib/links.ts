/**
 * Console paths for links. router.tsx builds its routes through a helper whose `path` is a plain string, so the
 * router's link types know no literal paths; links therefore take these string paths (ids are encoded).
 */
const id = (v: string) => encodeURIComponent(v);

export const paths = {
  overview: '/' as string,
  alerts: '/alerts' as string,
  alert: (v: string): string => `/alerts/${id(v)}`,
  incidents: '/incidents' as string,
  incident: (v: string): string => `/incidents/${id(v)}`,
  case: (v: string): string => `/cases/${id(v)}`,
  event: (v: string): string => `/events/${id(v)}`,
  approvals: '/approvals' as string,
  rules: '/rules' as string,
};
