export * from './alert.ts';
export * from './attack.ts';
export * from './case.ts';
export * from './common.ts';
export * from './event.ts';
export * from './incident.ts';
export * from './response.ts';
export * from './verdict.ts';
