import type { AccountInfo } from '@azure/msal-browser';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Shell, SignIn, Starting } from './app';
import { startAuth } from './auth';
import './styles.css';

function Root() {
  const [state, setState] = useState<{ phase: 'starting' } | { phase: 'out'; error?: unknown } | { phase: 'in'; account: AccountInfo }>({
    phase: 'starting',
  });
  useEffect(() => {
    startAuth().then(
      (account) => setState(account ? { phase: 'in', account } : { phase: 'out' }),
      (error: unknown) => setState({ phase: 'out', error }),
    );
  }, []);
  if (state.phase === 'starting') return <Starting />;
  if (state.phase === 'out') return <SignIn error={state.error} />;
  return <Shell account={state.account} />;
}

render(<Root />, document.getElementById('app')!);
