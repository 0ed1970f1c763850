import type { ParleyClient, SignedIn } from '@parley/client';
import { CONSOLE_SCOPE } from './console-session.ts';
import { errorText } from './error-text.ts';
import { SignInForms } from './sign-in-forms.tsx';

interface SignInPageProps {
  client: ParleyClient;
  onSignedIn: (signedIn: SignedIn) => void;
}

/** The console's sign-in: password grant against the tenant, then the MFA step when asked. */
export function SignInPage({ client, onSignedIn }: SignInPageProps) {
  return (
    <main className="narrow">
      <h1>Parley console</h1>
      <SignInForms client={client} scope={CONSOLE_SCOPE} describeError={errorText} onSignedIn={onSignedIn} />
    </main>
  );
}
