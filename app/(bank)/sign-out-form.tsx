/**
 * A plain form posting to the /logout route handler, which answers with `Clear-Site-Data` (a server action
 * cannot set that header). It needs no JavaScript, and the browser sends the Origin header that the route
 * requires.
 */
export function SignOutForm() {
  return (
    <form method="post" action="/logout">
      <button className="button-quiet" type="submit">
        Sign out
      </button>
    </form>
  );
}
