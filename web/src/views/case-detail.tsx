/** Placeholder: filled in by the view's own change. */
export default function CaseDetail() {
  return <h1>CaseDetail</h1>;
}
