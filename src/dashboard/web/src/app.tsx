/** The dashboard: sign-in, then the home view (header, requests, available and connected peers). */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { DomainView, LiveEvent, PeerView, RequestView, Session, State } from '../../api.js';
import { RequestError, api, followLive, onUnauthorized, tokenStore, type LiveStatus } from './client.js';
import { AddDialog, type AddTab } from './add.js';
import { DetailsDrawer } from './details.js';
import { Alert, Check, Copy, Globe, Link, Lock, Logo, LogOut, Plus } from './icons.js';
import { AvailablePeer, ConnectedPeer, DomainsList, RequestsPanel, type PeerActions } from './peers.js';
import { NotifyContext, Toasts, useNotify, useToasts } from './toasts.js';

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [checking, setChecking] = useState(!!tokenStore.get());
  const [loginError, setLoginError] = useState<string>();
  const { toasts, notifier, dismiss } = useToasts();

  useEffect(
    () =>
      onUnauthorized(() => {
        tokenStore.clear();
        setSession(null);
        setLoginError('The API server no longer accepts your token (expired or revoked): sign in again.');
      }),
    [],
  );

  // A token kept from earlier in this tab: check it is still good.
  useEffect(() => {
    const token = tokenStore.get();
    if (!token) return;
    api<Session>('GET', '/api/session', undefined, token)
      .then(setSession)
      .catch((e: RequestError) => {
        if (e.unauthorized) tokenStore.clear();
        setLoginError(e.message);
      })
      .finally(() => setChecking(false));
  }, []);

  const signIn = async (token: string) => {
    setLoginError(undefined);
    try {
      const s = await api<Session>('GET', '/api/session', undefined, token);
      tokenStore.set(token);
      setSession(s);
    } catch (e) {
      setLoginError((e as Error).message);
    }
  };
  const signOut = () => {
    tokenStore.clear();
    setSession(null);
    setLoginError(undefined);
  };

  return (
    <NotifyContext.Provider value={notifier}>
      {session ? <Dashboard session={session} onSignOut={signOut} /> : checking ? <div class="center muted">Checking your session…</div> : <Login onSignIn={signIn} error={loginError} />}
      <Toasts toasts={toasts} dismiss={dismiss} />
    </NotifyContext.Provider>
  );
}

function Login({ onSignIn, error }: { onSignIn(token: string): Promise<void>; error?: string }) {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!token.trim()) return;
    setBusy(true);
    await onSignIn(token.trim());
    setBusy(false);
  };
  return (
    <main class="login">
      <form class="login-card" onSubmit={submit} aria-label="Sign in">
        <div class="login-brand">
          <Logo size={36} />
          <div>
            <h1>kubepeer</h1>
            <p class="muted">Clusters that find each other and peer</p>
          </div>
        </div>
        <label for="token">Kubernetes bearer token</label>
        <textarea
          id="token"
          name="token"
          rows={4}
          class="mono"
          spellcheck={false}
          autocomplete="off"
          placeholder="eyJhbGciOi…"
          value={token}
          onInput={(e) => setToken((e.currentTarget as HTMLTextAreaElement).value)}
        />
        <p class="field-hint">Everything you do here is done with this token, so your Kubernetes permissions (RBAC) apply. It is kept only in this browser tab.</p>
        {error && (
          <div class="form-error" role="alert">
            {error}
          </div>
        )}
        <button class="button primary wide" type="submit" disabled={busy || !token.trim()}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <details class="help">
          <summary>How do I get a token?</summary>
          <pre class="raw">{`kubectl create serviceaccount peering-admin -n liqo
kubectl create clusterrolebinding peering-admin \\
  --clusterrole=cluster-admin --serviceaccount=liqo:peering-admin
kubectl create token peering-admin -n liqo --duration=8h`}</pre>
          <p class="small muted">A token bound to the built-in view role can look but not change anything.</p>
        </details>
      </form>
    </main>
  );
}

function useHashRoute(): [string, (r: string) => void] {
  const [route, setRoute] = useState(location.hash.slice(1) || '/');
  useEffect(() => {
    const on = () => setRoute(location.hash.slice(1) || '/');
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return [route, (r: string) => (location.hash = r)];
}

/** Runs `fn` now, or once more right after the run in progress: never two at a time. */
function useCoalesced(fn: () => Promise<void>): () => void {
  const running = useRef(false);
  const again = useRef(false);
  const ref = useRef(fn);
  ref.current = fn;
  return useCallback(() => {
    if (running.current) {
      again.current = true;
      return;
    }
    running.current = true;
    void (async () => {
      do {
        again.current = false;
        try {
          await ref.current();
        } catch {
          /* shown by fn */
        }
      } while (again.current);
      running.current = false;
    })();
  }, []);
}

function CopyID({ id }: { id: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(id);
    } catch {
      // Clipboard API refused (plain HTTP on a non-local address): select the text instead.
      const el = document.getElementById('cluster-id');
      if (el) window.getSelection()?.selectAllChildren(el);
    }
    setCopied(true);
    window.setTimeout(() => setCopied(false), 1500);
  };
  return (
    <div class="cluster-id">
      <span class="label">Cluster ID</span>
      <code id="cluster-id" class="mono">
        {id}
      </code>
      <button class="icon-button" onClick={copy} aria-label="Copy cluster ID" title="Copy cluster ID">
        {copied ? <Check size={16} /> : <Copy size={16} />}
      </button>
      {copied && (
        <span class="copied" role="status">
          Copied
        </span>
      )}
    </div>
  );
}

function Dashboard({ session, onSignOut }: { session: Session; onSignOut(): void }) {
  const notify = useNotify();
  const [state, setState] = useState<State | null>(null);
  const [loadError, setLoadError] = useState<RequestError | null>(null);
  const [live, setLive] = useState<LiveStatus>('connecting');
  const [liveWarnings, setLiveWarnings] = useState<string[]>([]);
  const [version, setVersion] = useState(0);
  const [clockOffset, setClockOffset] = useState(0);
  const [tick, setTick] = useState(Date.now());
  const [busy, setBusy] = useState<Set<string>>(new Set());
  const [errors, setErrors] = useState<Record<string, { message: string; detail?: string }>>({});
  const [addTab, setAddTab] = useState<AddTab | null>(null);
  const [menuOpen, setMenuOpen] = useState(false);
  const [route, setRoute] = useHashRoute();

  const refresh = useCoalesced(async () => {
    try {
      const s = await api<State>('GET', '/api/state');
      setClockOffset(Date.parse(s.now) - Date.now());
      setState(s);
      setLoadError(null);
    } catch (e) {
      setLoadError(e as RequestError);
    }
  });

  useEffect(() => {
    refresh();
    const stop = followLive((ev: LiveEvent) => {
      if (ev.type === 'ready' || ev.type === 'changed') {
        refresh();
        setVersion((v) => v + 1);
      } else if (ev.type === 'forbidden') setLiveWarnings((w) => (w.includes(ev.message) ? w : [...w, ev.message]));
    }, setLive);
    // Ages and heartbeats move on even when nothing changes.
    const poll = window.setInterval(refresh, 15_000);
    const clock = window.setInterval(() => setTick(Date.now()), 1000);
    return () => {
      stop();
      window.clearInterval(poll);
      window.clearInterval(clock);
    };
  }, [refresh]);

  useEffect(() => {
    if (!menuOpen) return;
    const close = () => setMenuOpen(false);
    window.addEventListener('click', close);
    return () => window.removeEventListener('click', close);
  }, [menuOpen]);

  const now = tick + clockOffset;

  const track = async (key: string, title: string, action: () => Promise<unknown>, success?: string | (() => string)): Promise<boolean> => {
    setBusy((b) => new Set(b).add(key));
    try {
      await action();
      setErrors(({ [key]: _, ...rest }) => rest);
      if (success) notify.success(typeof success === 'string' ? success : success());
      refresh();
      return true;
    } catch (e) {
      const err = e as RequestError;
      setErrors((es) => ({ ...es, [key]: { message: err.message, detail: err.detail } }));
      notify.failure(title, err);
      return false;
    } finally {
      setBusy((b) => {
        const n = new Set(b);
        n.delete(key);
        return n;
      });
    }
  };

  const setJoin = async (peer: PeerView, join: boolean) => {
    const name = peer.displayName;
    const [failed, done] = join
      ? peer.state === 'connected'
        ? [`Could not connect back to ${name}`, `Connecting back to ${name}…`]
        : [`Could not connect to ${name}`, `Connecting to ${name}…`]
      : peer.state === 'connected'
        ? [`Could not disconnect from ${name}`, `Disconnecting from ${name}: its virtual node is being removed`]
        : [`Could not stop connecting to ${name}`, `Stopped connecting to ${name}`];
    await track(peer.name, failed, () => api('PATCH', `/api/peers/${encodeURIComponent(peer.name)}`, { join }), done);
  };
  const pinAndConnect = (peer: PeerView) =>
    track(peer.name, `Could not connect to ${peer.displayName}`, () => api('PATCH', `/api/peers/${encodeURIComponent(peer.name)}`, { join: true, allowUntrustedCA: true }), `Connecting to ${peer.displayName}: its CA is pinned on first use`);
  const actions: PeerActions = {
    setJoin,
    pinAndConnect: async (p) => void (await pinAndConnect(p)),
    open: (p) => setRoute(`/peer/${encodeURIComponent(p.name)}`),
    decide: async (r: RequestView, accept: boolean) => {
      await track(`request:${r.name}`, `Could not ${accept ? 'accept' : 'reject'} the request from ${r.clusterName || r.clusterID}`, () => api('POST', `/api/requests/${encodeURIComponent(r.name)}/${accept ? 'accept' : 'reject'}`, {}), accept ? `Accepted ${r.clusterName || r.clusterID}` : `Rejected ${r.clusterName || r.clusterID}`);
    },
    removeDomain: async (d: DomainView) => {
      await track(`domain:${d.name}`, `Could not remove ${d.domain}`, () => api('DELETE', `/api/domains/${encodeURIComponent(d.name)}`), `Domain ${d.domain} removed`);
    },
    busy,
    errors,
  };
  const remove = (p: PeerView, forget = false) => {
    let kept = false;
    return track(
      p.name,
      `Could not ${forget ? 'forget' : 'remove'} ${p.displayName}`,
      async () => {
        const r = await api<{ ended?: { kept?: boolean } }>('DELETE', `/api/peers/${encodeURIComponent(p.name)}${forget ? '/forget' : ''}`);
        kept = !!r.ended?.kept;
      },
      () =>
        forget
          ? `${p.displayName} forgotten: discovery may find and connect it again`
          : `${p.displayName} removed: both directions of the peering end${kept ? '; kept as a record so that discovery does not connect it again' : ''}`,
    );
  };

  const peers = state?.peers ?? [];
  const connected = peers.filter((p) => p.state === 'connected');
  const available = peers.filter((p) => p.listed && p.state !== 'connected');
  const requests = (state?.requests ?? []).filter((r) => r.phase === 'Pending');
  const readOnly = !session.can.connect && !session.can.addPeer && !session.can.approve;
  const detailName = route.startsWith('/peer/') ? decodeURIComponent(route.slice('/peer/'.length)) : null;
  const warnings = [...(state?.warnings ?? []), ...liveWarnings];
  /** Nothing could be loaded (e.g. a token that may not list ForeignClusters): the panels say why instead of "Loading…". */
  const blocked = !state && loadError ? loadError : null;
  const loading = blocked ? (
    <p class="muted pad not-shown" role="status">
      Not shown: {blocked.message}
    </p>
  ) : (
    <p class="muted pad">Loading…</p>
  );

  return (
    <div class="layout">
      <header class="topbar">
        <div class="brand">
          <Logo />
          <div>
            <div class="eyebrow">kubepeer</div>
            {state && state.overview.clusterName === state.overview.clusterID ? (
              <h1 class="cluster-name unnamed" title="No name set: kubepeer install --cluster-name <name>, or ClusterConfig spec.discoveryConfig.clusterName">
                Unnamed cluster
              </h1>
            ) : (
              <h1 class="cluster-name" title={state?.overview.clusterName}>
                {state?.overview.clusterName ?? '…'}
              </h1>
            )}
          </div>
        </div>
        {state && <CopyID id={state.overview.clusterID} />}
        <span class="spacer" />
        {blocked ? (
          // Green "Live" would claim the page is up to date while it shows nothing: say what is wrong.
          <span class="live live-offline" title={blocked.message}>
            <span class="dot" aria-hidden="true" />
            {blocked.forbidden ? 'No access' : 'Not loaded'}
          </span>
        ) : (
          <span class={`live live-${live}`} title={live === 'live' ? 'Changes show up as they happen' : live === 'connecting' ? 'Connecting to live updates…' : 'Live updates interrupted; reconnecting'}>
            <span class="dot" aria-hidden="true" />
            {live === 'live' ? 'Live' : live === 'connecting' ? 'Connecting…' : 'Reconnecting…'}
          </span>
        )}
        <span class="user" title={session.groups.join(', ')}>
          {readOnly && (
            <span class="badge readonly">
              <Lock size={12} /> read-only
            </span>
          )}
          <span class="mono small">{session.username}</span>
        </span>
        <button class="button ghost" onClick={onSignOut} title="Forget the token in this tab">
          <LogOut size={16} /> Sign out
        </button>
      </header>

      <main class="content">
        {loadError && (
          <div class={`banner ${loadError.forbidden ? 'forbidden' : 'error'}`} role="alert">
            <Alert />
            <div>
              <p>{loadError.message}</p>
              {loadError.detail && <p class="small">{loadError.detail}</p>}
            </div>
          </div>
        )}
        {state?.overview.agent && !state.overview.agent.running && (
          <div class="banner error" role="alert" data-agent-down>
            <Alert />
            <div>
              <p>The kubepeer agent of this cluster is {state.overview.agent.text}.</p>
              <p class="small">Until one runs again nothing is reconciled: peerings do not progress or heal, and what it last published is from then. Start it (kubepeer agent, or the kubepeer Deployment in the cluster) and check: kubepeer status.</p>
            </div>
          </div>
        )}
        {warnings.length > 0 && (
          <div class="banner forbidden" role="status">
            <Lock />
            <div>
              {warnings.map((w) => (
                <p key={w}>{w}</p>
              ))}
            </div>
          </div>
        )}

        {requests.length > 0 && <RequestsPanel requests={requests} actions={actions} now={now} />}

        <div class="columns">
          <section class="panel" aria-labelledby="available-title">
            <header class="panel-head">
              <h2 id="available-title">
                Available Peers <span class="count">{available.length}</span>
              </h2>
              <div class="menu-wrap">
                <button
                  class="add-button"
                  aria-label="Add a domain or a remote peer"
                  title="Add a domain or a remote peer"
                  aria-haspopup="menu"
                  aria-expanded={menuOpen}
                  onClick={(e) => {
                    e.stopPropagation();
                    setMenuOpen(!menuOpen);
                  }}
                >
                  <Plus />
                </button>
                {menuOpen && (
                  <div class="menu" role="menu">
                    <button role="menuitem" onClick={() => (setAddTab('domain'), setMenuOpen(false))}>
                      <Globe size={16} /> Add domain
                    </button>
                    <button role="menuitem" onClick={() => (setAddTab('peer'), setMenuOpen(false))}>
                      <Link size={16} /> Add remote peer
                    </button>
                  </div>
                )}
              </div>
            </header>
            {!state ? (
              loading
            ) : available.length === 0 ? (
              <div class="empty">
                <p>No peer available at the moment.</p>
                <p class="muted small">Clusters on your LAN show up here by themselves. Use + to add a DNS domain or a remote peer.</p>
              </div>
            ) : (
              <ul class="cards" aria-label="Available peers">
                {available.map((p) => (
                  <AvailablePeer key={p.name} peer={p} actions={actions} />
                ))}
              </ul>
            )}
            {state && <DomainsList domains={state.domains} actions={actions} now={now} />}
          </section>

          <section class="panel" aria-labelledby="connected-title">
            <header class="panel-head">
              <h2 id="connected-title">
                Connected Peers <span class="count">{connected.length}</span>
              </h2>
            </header>
            {!state ? (
              loading
            ) : connected.length === 0 ? (
              <div class="empty">
                <p>No connected peers.</p>
                <p class="muted small">Connect an available peer: once it accepts, its resources appear here as a virtual node.</p>
              </div>
            ) : (
              <ul class="cards" aria-label="Connected peers">
                {connected.map((p) => (
                  <ConnectedPeer key={p.name} peer={p} actions={actions} />
                ))}
              </ul>
            )}
          </section>
        </div>
        {state?.overview.acceptPolicy && (
          <p class="footnote muted small">
            Incoming requests: <strong>{state.overview.acceptPolicy}</strong>
            {
              {
                Manual: ' (every request waits for your approval)',
                AutoAcceptKnown: ' (clusters you already know are accepted; others wait for approval)',
                AcceptAll: ' (every request is accepted)',
                RejectAll: ' (every request is refused)',
              }[state.overview.acceptPolicy]
            }
            {state.overview.trustMode && (
              <>
                {' · '}Trust mode: <strong>{state.overview.trustMode}</strong>
                {state.overview.trustMode === 'Trusted'
                  ? ' (our CA is not published; we peer only with clusters whose CA is trusted or pinned by a person)'
                  : ' (our CA is published; an untrusted peer may be pinned on first use)'}
              </>
            )}
          </p>
        )}
      </main>

      {addTab && (
        <AddDialog
          tab={addTab}
          onTab={setAddTab}
          onClose={() => setAddTab(null)}
          onDone={() => {
            setAddTab(null);
            refresh();
          }}
        />
      )}
      {detailName && <DetailsDrawer name={detailName} version={version} now={now} onClose={() => setRoute('/')} setJoin={setJoin} remove={remove} />}
    </div>
  );
}
