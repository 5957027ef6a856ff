/** Placeholder: filled in by the view's own change. */
export default function Incidents() {
  return <h1>Incidents</h1>;
}
