/** Placeholder: filled in by the view's own change. */
export default function Events() {
  return <h1>Events</h1>;
}
