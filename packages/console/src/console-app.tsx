import type { SignedIn } from '@parley/client';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { type ConsoleUser, loadUser, newClient } from './console-session.ts';
import { errorText } from './error-text.ts';
import { ConsentRequiredPage } from './consent-required-page.tsx';
import { MfaEnrolmentPage } from './mfa-enrolment-page.tsx';
import { PasswordChangePage } from './password-change-page.tsx';
import { SignInPage } from './sign-in-page.tsx';
import { ADMIN_PAGES } from './admin-pages.tsx';
import { COMPLIANCE_PAGES } from './compliance-pages.tsx';

/** Console pages, by path under /console/. Pages of features the server lacks are not listed. */
const PAGES = [...ADMIN_PAGES, ...COMPLIANCE_PAGES];

function usePath(): [string, (path: string) => void] {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const onPop = () => {
      setPath(window.location.pathname);
    };
    window.addEventListener('popstate', onPop);
    return () => {
      window.removeEventListener('popstate', onPop);
    };
  }, []);
  const navigate = useCallback((next: string) => {
    window.history.pushState(null, '', next);
    setPath(next);
  }, []);
  return [path, navigate];
}

export function ConsoleApp() {
  const client = useMemo(newClient, []);
  const [user, setUser] = useState<ConsoleUser>();
  const [notice, setNotice] = useState<string>();
  const [path, navigate] = usePath();

  const signedIn = (answer: SignedIn) => {
    loadUser(client, answer.notice)
      .then((loaded) => {
        setNotice(undefined);
        setUser(loaded);
        const allowed = PAGES.filter((page) => loaded.permissions.has(page.permission));
        if (!allowed.some((page) => page.path === window.location.pathname))
          navigate(allowed[0]?.path ?? '/console/');
      })
      .catch((caught: unknown) => {
        setNotice(errorText(caught));
      });
  };
  const signOut = (message?: string) => {
    // Revokes the refresh token; the SDK forgets the tokens even when the server cannot be reached.
    client.auth
      .signOut()
      .catch(() => undefined)
      .finally(() => {
        setUser(undefined);
        setNotice(message);
        navigate('/console/');
      });
  };

  if (!user)
    return (
      <>
        {notice ? (
          <p className="notice" role="status">
            {notice}
          </p>
        ) : null}
        <SignInPage client={client} onSignedIn={signedIn} />
      </>
    );
  if (user.notice === 'password_change_required')
    return (
      <PasswordChangePage
        client={client}
        onChanged={() => {
          signOut('Password changed. Sign in with the new password.');
        }}
        onSignOut={() => {
          signOut();
        }}
      />
    );
  if (user.notice === 'mfa_enrollment_required')
    return (
      <MfaEnrolmentPage
        client={client}
        onEnrolled={() => {
          signOut('Two-factor sign-in is on. Sign in again with a code.');
        }}
        onSignOut={() => {
          signOut();
        }}
      />
    );
  if (user.notice === 'consent_required')
    return (
      <ConsentRequiredPage
        client={client}
        onAccepted={() => {
          setUser({ ...user, notice: undefined });
        }}
        onSignOut={() => {
          signOut();
        }}
      />
    );
  const pages = PAGES.filter((page) => user.permissions.has(page.permission));
  const page = pages.find((entry) => entry.path === path);
  return (
    <>
      <header className="bar">
        <nav aria-label="Console">
          <span className="brand">Parley console</span>
          {pages.map((entry) => (
            <a
              key={entry.path}
              href={entry.path}
              aria-current={entry.path === path ? 'page' : undefined}
              onClick={(event) => {
                event.preventDefault();
                navigate(entry.path);
              }}
            >
              {entry.title}
            </a>
          ))}
        </nav>
        <div className="who">
          <span>{user.profile.displayName ?? user.profile.email}</span>
          <button
            type="button"
            onClick={() => {
              signOut();
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      {user.notice ? (
        <p className="notice" role="status">
          This session is limited until you act on: {user.notice.replaceAll('_', ' ')}.
        </p>
      ) : null}
      {page ? (
        page.render({ client, permissions: user.permissions })
      ) : (
        <main>
          <h1>Nothing to show</h1>
          <p>{pages.length === 0 ? 'Your role has no console page.' : 'Choose a page above.'}</p>
        </main>
      )}
    </>
  );
}
