/** Placeholder: filled in by the view's own change. */
export default function Cases() {
  return <h1>Cases</h1>;
}
