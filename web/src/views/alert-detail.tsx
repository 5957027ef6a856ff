/** Placeholder: filled in by the view's own change. */
export default function AlertDetail() {
  return <h1>AlertDetail</h1>;
}
