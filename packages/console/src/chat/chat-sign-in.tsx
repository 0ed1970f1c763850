import type { ParleyClient, SignedIn } from '@parley/client';
import { SignInForms } from '../sign-in-forms.tsx';
import { chatErrorText } from './chat-text.ts';

/** The scopes the chat app asks for: its profile, messaging and calls. */
export const CHAT_SCOPE = 'profile chat calls';

/** Password grant, then the MFA step (authenticator or recovery code) when the server asks for it. */
export function ChatSignIn(props: { client: ParleyClient; onSignedIn: (signedIn: SignedIn) => void }) {
  return (
    <main className="narrow">
      <h1>Parley chat</h1>
      <SignInForms
        client={props.client}
        scope={CHAT_SCOPE}
        describeError={chatErrorText}
        onSignedIn={props.onSignedIn}
      />
    </main>
  );
}
