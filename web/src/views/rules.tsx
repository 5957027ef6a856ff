/** Placeholder: filled in by the view's own change. */
export default function Rules() {
  return <h1>Rules</h1>;
}
