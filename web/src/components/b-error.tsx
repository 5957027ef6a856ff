import { ApiError } from '../lib/api.ts';

/** What a failed request means to the analyst: the server's sentence, and the field it names when it names one. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 403 && !error.field) return `${error.message} (this key lacks the scope for it)`;
    return error.field ? `${error.message} (field: ${error.field})` : error.message;
  }
  return error instanceof Error ? error.message : 'The request failed.';
}

export function ErrorNote({ error, id }: { error: unknown; id?: string }) {
  if (!error) return null;
  return (
    <p role="alert" className="error" id={id}>
      {errorText(error)}
    </p>
  );
}
