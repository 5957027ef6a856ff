/** Placeholder: filled in by the view's own change. */
export default function IncidentDetail() {
  return <h1>IncidentDetail</h1>;
}
