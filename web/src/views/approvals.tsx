/** Placeholder: filled in by the view's own change. */
export default function Approvals() {
  return <h1>Approvals</h1>;
}
