/** Placeholder: filled in by the view's own change. */
export default function EventDetail() {
  return <h1>EventDetail</h1>;
}
