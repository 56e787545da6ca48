/** One peer in depth: its state, conditions (reason and message), events, Advertisement and virtual node. */
import { useEffect, useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import type { PeerDetails, PeerView } from '../../api.js';
import { RequestError, api } from './client.js';
import { ago, bytes, cores, count, discoveryLabel } from './format.js';
import { Alert, X } from './icons.js';
import { DiscoveryBadge, TrustBadge } from './peers.js';

function Row({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </>
  );
}

function Phase({ p }: { p: PeerView['outgoing'] }) {
  return (
    <span>
      <span class={`badge phase-${p.phase.toLowerCase()}`}>{p.phase}</span>
      {p.reason && <span class="muted small"> {p.reason}</span>}
      {p.message && <span class="block small">{p.message}</span>}
    </span>
  );
}

export function DetailsDrawer({
  name,
  version,
  now,
  onClose,
  setJoin,
  remove,
}: {
  name: string;
  /** Bumped on every live change, to refetch. */
  version: number;
  now: number;
  onClose(): void;
  setJoin(peer: PeerView, join: boolean): Promise<void>;
  remove(peer: PeerView, forget?: boolean): Promise<boolean>;
}) {
  const [data, setData] = useState<PeerDetails | null>(null);
  const [error, setError] = useState<RequestError | null>(null);
  const [confirmRemove, setConfirmRemove] = useState(false);

  useEffect(() => {
    let cancelled = false;
    api<PeerDetails>('GET', `/api/peers/${encodeURIComponent(name)}`)
      .then((d) => !cancelled && (setData(d), setError(null)))
      .catch((e: RequestError) => !cancelled && setError(e));
    return () => {
      cancelled = true;
    };
  }, [name, version]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && onClose();
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);

  const peer = data?.peer;
  const adv = peer?.advertisement;
  const node = peer?.virtualNode;
  return (
    <div class="overlay drawer-overlay" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <aside class="drawer" role="dialog" aria-modal="true" aria-labelledby="details-title">
        <header class="drawer-head">
          <div>
            <h2 id="details-title">{peer?.displayName ?? name}</h2>
            {peer && <span class="mono muted small">{peer.clusterID}</span>}
          </div>
          <button class="icon-button" aria-label="Close details" onClick={onClose}>
            <X />
          </button>
        </header>
        {error && (
          <div class={`banner ${error.forbidden ? 'forbidden' : 'error'}`} role="alert">
            <Alert />
            <div>
              <p>{error.message}</p>
              {error.detail && <p class="small">{error.detail}</p>}
            </div>
          </div>
        )}
        {!data && !error && <p class="muted pad">Loading…</p>}
        {peer && data && (
          <div class="drawer-body">
            <div class="drawer-actions">
              <DiscoveryBadge type={peer.discoveryType} />
              <TrustBadge peer={peer} />
              <span class="spacer" />
              {peer.join ? (
                <button class="button danger-outline" onClick={() => setJoin(peer, false)}>
                  {peer.state === 'connected' ? 'Disconnect' : 'Stop connecting'}
                </button>
              ) : (
                <button class="button primary" onClick={() => setJoin(peer, true)}>
                  Connect
                </button>
              )}
              {confirmRemove ? (
                <>
                  <button
                    class="button danger"
                    onClick={async () => {
                      if (await remove(peer, !!peer.removedAt)) onClose();
                      setConfirmRemove(false);
                    }}
                  >
                    {peer.removedAt ? 'Yes, forget' : 'Yes, remove'}
                  </button>
                  <button class="button ghost" onClick={() => setConfirmRemove(false)}>
                    Cancel
                  </button>
                </>
              ) : (
                <button
                  class="button ghost"
                  onClick={() => setConfirmRemove(true)}
                  title={
                    peer.removedAt
                      ? 'Delete the record of its removal: discovery may then find and connect it again'
                      : 'End both directions (it stops using this cluster too); a discovered peer stays as a record so that discovery does not connect it again'
                  }
                >
                  {peer.removedAt ? 'Forget' : 'Remove'}
                </button>
              )}
            </div>

            {data.warnings.length > 0 && (
              <div class="banner forbidden">
                {data.warnings.map((w) => (
                  <p key={w}>{w}</p>
                ))}
              </div>
            )}

            <section>
              <h3>Peering</h3>
              <dl class="facts">
                <Row label="Status">
                  {peer.summary}
                  {peer.unreachable && <span class="block small">{peer.unreachable.todo}</span>}
                </Row>
                <Row label="Outgoing">
                  <Phase p={peer.outgoing} />
                </Row>
                <Row label="Incoming">
                  <Phase p={peer.incoming} />
                </Row>
                <Row label="Join">{peer.join ? 'yes' : 'no'}</Row>
                <Row label="API server">
                  <span class="mono">{peer.apiUrl ?? '–'}</span>
                </Row>
                <Row label="Namespace">
                  <span class="mono">{peer.namespace}</span>
                </Row>
                <Row label="Discovery">{discoveryLabel[peer.discoveryType] ?? peer.discoveryType}</Row>
                <Row label="Trust">
                  {peer.trustMode}
                  {peer.allowUntrustedCA ? ' (untrusted CA allowed)' : ''}
                  {peer.caFingerprint && <span class="mono block small break">{peer.caFingerprint}</span>}
                </Row>
                {peer.lastSeen && Object.keys(peer.lastSeen).length > 0 && (
                  <Row label="Last seen">
                    {Object.entries(peer.lastSeen).map(([src, t]) => (
                      <span class="block small" key={src}>
                        {discoveryLabel[src] ?? src}: {ago(t, now)}
                      </span>
                    ))}
                  </Row>
                )}
                <Row label="Created">{peer.createdAt ? ago(peer.createdAt, now) : '–'}</Row>
              </dl>
            </section>

            <section>
              <h3>Conditions</h3>
              {data.conditions.length === 0 ? (
                <p class="muted small">No conditions reported yet.</p>
              ) : (
                <table class="table conditions">
                  <thead>
                    <tr>
                      <th>Type</th>
                      <th>Status</th>
                      <th>Reason</th>
                      <th>Message</th>
                      <th>Since</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.conditions.map((c) => (
                      <tr key={c.type} data-condition={c.type}>
                        <td>{c.type}</td>
                        <td>
                          <span class={`badge ${c.status === 'True' ? 'ok' : c.status === 'False' ? 'bad' : 'neutral'}`}>{c.status}</span>
                        </td>
                        <td class="mono small">{c.reason}</td>
                        <td class="small">{c.message}</td>
                        <td class="small nowrap">{ago(c.lastTransitionTime, now)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>

            <section>
              <h3>Advertisement and virtual node</h3>
              {adv ? (
                <dl class="facts">
                  <Row label="Advertisement">
                    <span class="mono">{adv.name}</span> {adv.phase && <span class={`badge ${adv.phase === 'Accepted' ? 'ok' : 'bad'}`}>{adv.phase}</span>}
                  </Row>
                  <Row label="Offers">
                    {cores(adv.resources.cpu)} CPU · {bytes(adv.resources.memory)} memory · {count(adv.resources.pods)} pods
                  </Row>
                  <Row label="Heartbeat">
                    {adv.heartbeat ? ago(adv.heartbeat, now) : '–'} <span class="muted small">(NotReady after {adv.timeToLive} s without one)</span>
                  </Row>
                  <Row label="Virtual node">
                    {node ? (
                      <>
                        <span class="mono">{node.name}</span> <span class={`badge ${node.ready ? 'ok' : 'bad'}`}>{node.ready ? 'Ready' : node.ready === false ? 'NotReady' : 'Unknown'}</span>
                        {node.message && <span class="block small muted">{node.message}</span>}
                      </>
                    ) : (
                      'not created yet'
                    )}
                  </Row>
                  <Row label="Health">{peer.healthMessage}</Row>
                </dl>
              ) : (
                <p class="muted small">No Advertisement from this peer: it advertises resources once it accepts our peering request.</p>
              )}
            </section>

            <section>
              <h3>Offloading</h3>
              {peer.offloading ? (
                <dl class="facts" data-offloading-details>
                  <Row label="We run there">{peer.offloading.weRunThere ? peer.offloading.weRunThere.text.replace(/^We run there: /, '') : 'nothing (no virtual node for this peer)'}</Row>
                  <Row label="It runs here">{peer.offloading.itRunsHere ? peer.offloading.itRunsHere.text.replace(/^It runs here: /, '') : 'nothing (it has no tenancy here)'}</Row>
                </dl>
              ) : (
                <p class="muted small">Nothing can be offloaded either way yet: pods run on a peer through its virtual node (kubepeer offload namespace NS), and a peer runs pods here once it peers with this cluster.</p>
              )}
            </section>

            <section>
              <h3>Events</h3>
              {data.events.length === 0 ? (
                <p class="muted small">No events.</p>
              ) : (
                <table class="table events">
                  <thead>
                    <tr>
                      <th>Type</th>
                      <th>Reason and object</th>
                      <th>Message</th>
                      <th>Last seen</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.events.map((e, i) => (
                      <tr key={i}>
                        <td>
                          <span class={`badge ${e.type === 'Warning' ? 'warn' : 'neutral'}`}>{e.type}</span>
                        </td>
                        <td class="event-reason small">
                          <span class="mono">{e.reason}</span>
                          <span class="mono muted block event-object">{e.object}</span>
                        </td>
                        <td class="small">
                          {e.message}
                          {e.count > 1 && <span class="muted"> (×{e.count})</span>}
                        </td>
                        <td class="small nowrap">{ago(e.lastTimestamp, now)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>

            <section>
              <h3>Objects</h3>
              <details>
                <summary>ForeignCluster {peer.name}</summary>
                <pre class="raw">{JSON.stringify(data.raw.foreignCluster, null, 2)}</pre>
              </details>
              {data.raw.advertisement !== undefined && (
                <details>
                  <summary>Advertisement</summary>
                  <pre class="raw">{JSON.stringify(data.raw.advertisement, null, 2)}</pre>
                </details>
              )}
              {data.raw.peeringRequest !== undefined && (
                <details>
                  <summary>PeeringRequest</summary>
                  <pre class="raw">{JSON.stringify(data.raw.peeringRequest, null, 2)}</pre>
                </details>
              )}
            </section>
          </div>
        )}
      </aside>
    </div>
  );
}
