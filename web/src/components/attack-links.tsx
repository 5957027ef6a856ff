/** ATT&CK technique ids as links to attack.mitre.org, built only from ids that are well formed. */
import './widgets.css';

const TECHNIQUE = /^T\d{4}(\.\d{3})?$/;

/** `T1078.004` → `https://attack.mitre.org/techniques/T1078/004/`; null for anything that is not a technique id. */
export function techniqueUrl(id: string): string | null {
  if (!TECHNIQUE.test(id)) return null;
  const [parent, sub] = id.split('.');
  return `https://attack.mitre.org/techniques/${parent}/${sub ? `${sub}/` : ''}`;
}

export function TechniqueLink({ id }: { id: string }) {
  const url = techniqueUrl(id);
  // A malformed id (model-written text) is shown as text, never turned into a link.
  if (!url) return <code>{id}</code>;
  return (
    <a href={url} target="_blank" rel="noopener noreferrer">
      {id}
      <span className="visually-hidden"> (MITRE ATT&amp;CK, opens in a new tab)</span>
    </a>
  );
}

export function TechniqueList({ ids, empty = 'None' }: { ids: readonly string[]; empty?: string }) {
  if (!ids.length) return <span className="muted">{empty}</span>;
  return (
    <ul className="inline-list">
      {ids.map((id) => (
        <li key={id}>
          <TechniqueLink id={id} />
        </li>
      ))}
    </ul>
  );
}
