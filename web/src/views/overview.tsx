/** Placeholder: filled in by the view's own change. */
export default function Overview() {
  return <h1>Overview</h1>;
}
