/** The home view's rows: available and connected peers, incoming requests, search domains. */
import { useState } from 'preact/hooks';
import type { DomainView, OffloadingView, PeerView, RequestView } from '../../api.js';
import { ago, bytes, cores, count, discoveryLabel, shortID, trustHelp } from './format.js';
import { ArrowLeft, ArrowRight, ArrowsBoth, DiscoveryIcon, Globe, Inbox, Server, X } from './icons.js';

export interface PeerActions {
  setJoin(peer: PeerView, join: boolean): Promise<void>;
  /** Connect and let the agent pin the peer's CA on first use (allowUntrustedCA). */
  pinAndConnect(peer: PeerView): Promise<void>;
  open(peer: PeerView): void;
  decide(req: RequestView, accept: boolean): Promise<void>;
  removeDomain(d: DomainView): Promise<void>;
  busy: Set<string>;
  errors: Record<string, { message: string; detail?: string }>;
}

export function TrustBadge({ peer }: { peer: Pick<PeerView, 'trustMode' | 'caFingerprint' | 'allowUntrustedCA'> }) {
  const mode = peer.trustMode || 'Unknown';
  const label =
    mode === 'Untrusted'
      ? peer.caFingerprint
        ? 'Untrusted CA · pinned'
        : peer.allowUntrustedCA
          ? 'Untrusted CA · pin on first use'
          : 'Untrusted CA'
      : mode === 'Trusted'
        ? 'Trusted CA'
        : mode === 'Pinned'
          ? 'Pinned CA'
          : 'Trust not checked yet';
  return (
    <span class={`badge trust-${mode.toLowerCase()}`} title={trustHelp[mode] ?? ''}>
      {label}
    </span>
  );
}

export function DiscoveryBadge({ type }: { type: string }) {
  return <span class="badge neutral">{discoveryLabel[type] ?? type}</span>;
}

function PeerIdentity({ peer, onOpen }: { peer: PeerView; onOpen(): void }) {
  return (
    <div class="peer-identity">
      <span class={`peer-icon discovery-${peer.discoveryType.toLowerCase()}`}>
        <DiscoveryIcon type={peer.discoveryType} size={20} />
      </span>
      <div class="peer-names">
        <button class="link peer-name" onClick={onOpen} title="Show details">
          {peer.displayName}
        </button>
        <span class="mono muted small" title={peer.clusterID}>
          {peer.clusterID}
        </span>
      </div>
    </div>
  );
}

function InlineError({ error }: { error?: { message: string; detail?: string } }) {
  if (!error) return null;
  return (
    <div class="inline-error" role="alert">
      <p>{error.message}</p>
      {error.detail && <p class="detail">{error.detail}</p>}
    </div>
  );
}

export function AvailablePeer({ peer, actions }: { peer: PeerView; actions: PeerActions }) {
  const busy = actions.busy.has(peer.name);
  const connecting = peer.state === 'connecting' || (peer.state === 'failed' && peer.join);
  return (
    <li class={`peer-card state-${peer.state}`} data-peer={peer.name} data-cluster-id={peer.clusterID}>
      <div class="peer-row">
        <PeerIdentity peer={peer} onOpen={() => actions.open(peer)} />
        <div class="peer-buttons">
          {connecting ? (
            <button class="button secondary" disabled={busy} onClick={() => actions.setJoin(peer, false)}>
              Stop connecting
            </button>
          ) : (
            <button class="button primary" disabled={busy || peer.deleting} onClick={() => actions.setJoin(peer, true)}>
              Connect
            </button>
          )}
          <button class="button ghost" onClick={() => actions.open(peer)}>
            Details
          </button>
        </div>
      </div>
      <div class="peer-meta">
        <DiscoveryBadge type={peer.discoveryType} />
        <TrustBadge peer={peer} />
        {peer.requestWaiting && <span class="badge attention">Request waiting</span>}
        {peer.removedAt && (
          <span class="badge neutral" data-removed title={`Removed by a person at ${peer.removedAt}`}>
            Removed
          </span>
        )}
        <span class={`peer-status ${peer.state === 'failed' || peer.problem ? 'warn' : ''}`}>
          {connecting && !peer.problem && <span class="spinner" aria-hidden="true" />}
          {peer.deleting ? 'Being removed…' : peer.summary}
        </span>
      </div>
      <DirectionStates peer={peer} all={false} />
      <UntrustedCAAction peer={peer} actions={actions} />
      <InlineError error={actions.errors[peer.name]} />
    </li>
  );
}

function DirectionTag({ peer }: { peer: PeerView }) {
  if (peer.direction === 'both')
    return (
      <span class="direction" title="Both ways: you use its resources and it uses yours">
        <ArrowsBoth size={16} /> Both ways
      </span>
    );
  if (peer.direction === 'outgoing')
    return (
      <span class="direction" title="Outgoing: you use its resources through the virtual node">
        <ArrowRight size={16} /> Outgoing
      </span>
    );
  return (
    <span class="direction" title="Incoming: it uses resources of your cluster">
      <ArrowLeft size={16} /> Incoming
    </span>
  );
}

/**
 * Each direction's own state, side by side ("Outgoing · Pending", "Incoming · Established"), so
 * that half a transition is never hidden behind the other half. `all`: also the directions that
 * are not peered.
 */
export function DirectionStates({ peer, all }: { peer: PeerView; all: boolean }) {
  const shown = [
    ['outgoing', peer.outgoingState, ArrowRight],
    ['incoming', peer.incomingState, ArrowLeft],
  ] as const;
  const visible = shown.filter(([, d]) => all || d.phase !== 'None' || d.tone === 'bad');
  if (!visible.length) return null;
  return (
    <div class="direction-states" aria-label="Peering directions">
      {visible.map(([key, d, Arrow]) => (
        <span key={key} class={`direction-state tone-${d.tone}`} data-direction={key} data-phase={d.phase} title={d.detail}>
          <Arrow size={14} />
          <strong>{d.label}</strong>
          <span class="direction-detail">{d.detail}</span>
        </span>
      ))}
    </div>
  );
}

/**
 * The outgoing direction is blocked because this cluster does not trust the peer's CA: offer what
 * `kubepeer peer join --allow-untrusted-ca` does (the condition's message says the alternative).
 */
function UntrustedCAAction({ peer, actions }: { peer: PeerView; actions: PeerActions }) {
  if (peer.problem?.reason !== 'UntrustedCA' || !peer.join || peer.allowUntrustedCA) return null;
  return (
    <div class="untrusted-ca-action">
      <button
        class="button secondary"
        disabled={actions.busy.has(peer.name)}
        onClick={() => actions.pinAndConnect(peer)}
        title="Read its CA from its public cluster-info once and pin it (sets spec.allowUntrustedCA); do this only if you know this is the cluster you mean"
      >
        Pin its CA and connect
      </button>
    </div>
  );
}

/** A peered cluster that stopped answering: what was seen, and what to do. */
function UnreachableNote({ peer }: { peer: PeerView }) {
  if (!peer.unreachable) return null;
  return (
    <div class="unreachable" role="status" data-unreachable>
      <p>
        <span class="badge bad">Unreachable</span> {peer.unreachable.message}
      </p>
      <p class="small">{peer.unreachable.todo}</p>
    </div>
  );
}

function Stat({ label, value }: { label: string; value: string }) {
  return (
    <div class="stat">
      <span class="stat-value">{value}</span>
      <span class="stat-label">{label}</span>
    </div>
  );
}

/** Pods offloaded each way: what we run on the peer and what it runs here (absent: nothing either way). */
export function OffloadingLines({ offloading }: { offloading?: OffloadingView }) {
  if (!offloading) return null;
  return (
    <div class="offloading" aria-label="Offloaded pods">
      {offloading.weRunThere && (
        <span class="small" data-offloading="we-run-there" title="Pods bound to its virtual node, and their requests against what it offers">
          <ArrowRight size={14} /> {offloading.weRunThere.text}
        </span>
      )}
      {offloading.itRunsHere && (
        <span class="small" data-offloading="it-runs-here" title="Pods of its tenant namespace here, against the quota this cluster gives it">
          <ArrowLeft size={14} /> {offloading.itRunsHere.text}
        </span>
      )}
    </div>
  );
}

export function ConnectedPeer({ peer, actions }: { peer: PeerView; actions: PeerActions }) {
  const [confirming, setConfirming] = useState(false);
  const busy = actions.busy.has(peer.name);
  const res = peer.virtualNode?.capacity ?? peer.advertisement?.resources;
  const outgoing = peer.direction === 'outgoing' || peer.direction === 'both';
  return (
    <li class={`peer-card state-connected${peer.unreachable ? ' unreachable-peer' : ''}`} data-peer={peer.name} data-cluster-id={peer.clusterID}>
      <div class="peer-row">
        <PeerIdentity peer={peer} onOpen={() => actions.open(peer)} />
        <DirectionTag peer={peer} />
      </div>
      <DirectionStates peer={peer} all={true} />
      <UntrustedCAAction peer={peer} actions={actions} />
      <UnreachableNote peer={peer} />
      {outgoing ? (
        <div class="resources">
          <Stat label="CPU cores" value={res ? cores(res.cpu) : '–'} />
          <Stat label="Memory" value={res ? bytes(res.memory) : '–'} />
          <Stat label="Pods" value={res ? count(res.pods) : '–'} />
          <div class="vnode" title={peer.virtualNode?.message ?? ''}>
            <Server size={16} />
            <span class="mono small">{peer.virtualNode?.name ?? 'no virtual node yet'}</span>
            {peer.virtualNode && <span class={`badge ${peer.virtualNode.ready ? 'ok' : 'bad'}`}>{peer.virtualNode.ready ? 'Ready' : peer.virtualNode.ready === false ? 'NotReady' : 'Unknown'}</span>}
          </div>
        </div>
      ) : (
        <p class="muted small">{peer.summary}</p>
      )}
      <OffloadingLines offloading={peer.offloading} />
      <div class="peer-footer">
        <span class={`health health-${peer.health}`} title={peer.healthMessage}>
          <span class="dot" aria-hidden="true" />
          {peer.health === 'healthy' ? 'Healthy' : peer.health === 'late' ? 'Late' : peer.health === 'down' ? 'Down' : 'Unknown'}
          <span class="muted">{peer.healthMessage ? ` · ${peer.healthMessage}` : ''}</span>
        </span>
        <div class="peer-buttons">
          <button class="button ghost" onClick={() => actions.open(peer)}>
            Details
          </button>
          {peer.join ? (
            confirming ? (
              <span class="confirm">
                <span class="small">Disconnect {peer.displayName}?</span>
                <button
                  class="button danger"
                  disabled={busy}
                  onClick={async () => {
                    setConfirming(false);
                    await actions.setJoin(peer, false);
                  }}
                >
                  Yes, disconnect
                </button>
                <button class="button ghost" onClick={() => setConfirming(false)}>
                  Cancel
                </button>
              </span>
            ) : (
              <button class="button danger-outline" disabled={busy} onClick={() => setConfirming(true)}>
                Disconnect
              </button>
            )
          ) : (
            <button class="button secondary" disabled={busy} onClick={() => actions.setJoin(peer, true)} title="Use its resources too (peer both ways)">
              Connect back
            </button>
          )}
        </div>
      </div>
      <InlineError error={actions.errors[peer.name]} />
    </li>
  );
}

export function RequestsPanel({ requests, actions, now }: { requests: RequestView[]; actions: PeerActions; now: number }) {
  return (
    <section class="panel requests" aria-labelledby="requests-title">
      <header class="panel-head">
        <h2 id="requests-title">
          <Inbox /> Incoming requests <span class="count">{requests.length}</span>
        </h2>
        <p class="muted small">These clusters ask to use resources of this cluster. Accept to let them in.</p>
      </header>
      <ul class="cards">
        {requests.map((r) => {
          const busy = actions.busy.has(`request:${r.name}`);
          return (
            <li class="peer-card request" key={r.name} data-request={r.name}>
              <div class="peer-row">
                <div class="peer-identity">
                  <span class="peer-icon discovery-incomingpeering">
                    <Inbox size={20} />
                  </span>
                  <div class="peer-names">
                    <strong class="peer-name-static">{r.clusterName || shortID(r.clusterID)}</strong>
                    <span class="mono muted small">{r.clusterID}</span>
                  </div>
                </div>
                <div class="peer-buttons">
                  {r.waitingForApproval ? (
                    <>
                      <button class="button primary" disabled={busy} onClick={() => actions.decide(r, true)}>
                        Accept
                      </button>
                      <button class="button danger-outline" disabled={busy} onClick={() => actions.decide(r, false)}>
                        Reject
                      </button>
                    </>
                  ) : (
                    <span class="muted small">
                      <span class="spinner" aria-hidden="true" /> {r.reason ?? r.phase}
                    </span>
                  )}
                </div>
              </div>
              <div class="peer-meta">
                <span class="badge neutral mono">{r.apiUrl}</span>
                {r.identity && (
                  <span class={`badge ${r.identity.status === 'True' ? 'ok' : 'warn'}`} title={r.identity.message}>
                    {r.identity.status === 'True' ? 'Identity verified' : `Identity: ${r.identity.reason ?? 'unknown'}`}
                  </span>
                )}
                <span class="muted small">{r.createdAt ? `asked ${ago(r.createdAt, now)}` : ''}</span>
              </div>
              <InlineError error={actions.errors[`request:${r.name}`]} />
            </li>
          );
        })}
      </ul>
    </section>
  );
}

export function DomainsList({ domains, actions, now }: { domains: DomainView[]; actions: PeerActions; now: number }) {
  if (!domains.length) return null;
  return (
    <div class="domains">
      <h3>
        <Globe size={16} /> Search domains
      </h3>
      <ul>
        {domains.map((d) => (
          <li key={d.name} data-domain={d.name}>
            <span class="mono">{d.domain}</span>
            {d.autojoin && <span class="badge neutral">auto-join</span>}
            <span class={`badge ${d.synced?.status === 'True' ? 'ok' : d.synced?.status === 'False' ? 'bad' : 'neutral'}`} title={d.synced?.message ?? ''}>
              {d.synced?.status === 'True' ? `${d.clusters} found` : d.synced?.status === 'False' ? (d.synced.reason ?? 'Failed') : 'Not synced yet'}
            </span>
            <span class="muted small">{d.lastSync ? `synced ${ago(d.lastSync, now)}` : ''}</span>
            <button class="icon-button" title={`Remove ${d.domain}`} aria-label={`Remove domain ${d.domain}`} onClick={() => actions.removeDomain(d)}>
              <X size={14} />
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}
