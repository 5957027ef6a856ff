/** Placeholder: filled in by the view's own change. */
export default function Coverage() {
  return <h1>Coverage</h1>;
}
