/** Placeholder: filled in by the view's own change. */
export default function Alerts() {
  return <h1>Alerts</h1>;
}
