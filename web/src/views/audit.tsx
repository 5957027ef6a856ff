/** Placeholder: filled in by the view's own change. */
export default function Audit() {
  return <h1>Audit</h1>;
}
