import { describe, expect, it } from 'vitest';
import type { Advertisement, ForeignCluster, PeeringRequest } from '../../../src/api/crds.js';
import { counts, peerView, peerViews } from '../../../src/dashboard/peerView.js';
import type { NodeLike } from '../../../src/virtualnode/virtualNode.js';

const B = 'bbbbbbbb-0000-4000-8000-000000000002';
const now = new Date('2026-11-30T10:00:00Z');
const secondsAgo = (s: number) => new Date(now.getTime() - s * 1000).toISOString();

type Phase = { phase: string; reason?: string; message?: string };

const fc = (outgoing: Phase, incoming: Phase, join = true, conditions: unknown[] = []): ForeignCluster =>
  ({
    metadata: { name: 'peer-b' },
    spec: { clusterID: B, clusterName: 'cluster-b', discoveryType: 'Manual', join, apiUrl: 'https://198.51.100.7:6443' },
    status: { outgoing, incoming, conditions },
  }) as unknown as ForeignCluster;

const node = (ready: boolean, message = ''): NodeLike =>
  ({ metadata: { name: `liqo-${B}` }, status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', reason: ready ? 'PeerHeartbeat' : 'PeerSilent', message }] } }) as unknown as NodeLike;

const advertisement = (heartbeatSecondsAgo: number): Advertisement =>
  ({ metadata: { name: `advertisement-${B}` }, spec: { clusterID: B, heartbeat: secondsAgo(heartbeatSecondsAgo), timeToLive: 30, resources: { cpu: '2' } }, status: { phase: 'Accepted' } }) as unknown as Advertisement;

const acceptedRequest = { metadata: { name: B }, spec: { clusterID: B }, status: { phase: 'Accepted' } } as unknown as PeeringRequest;

describe('the dashboard: each direction of a peering on its card', () => {
  it('shows a pending outgoing request next to an established incoming peering, not one merged state', () => {
    const v = peerView({
      fc: fc({ phase: 'Pending', reason: 'WaitingForApproval', message: 'cluster-b has not approved our PeeringRequest yet' }, { phase: 'Established', reason: 'Advertising' }),
      request: acceptedRequest,
      now,
    });
    expect(v.state).toBe('connected');
    expect(v.outgoingState).toMatchObject({ label: 'Outgoing · Pending', tone: 'progress', detail: 'cluster-b has not approved our PeeringRequest yet' });
    expect(v.incomingState).toMatchObject({ label: 'Incoming · Established', tone: 'ok' });
    expect(v.unreachable).toBeUndefined();
  });

  it('after leave: the outgoing direction is not peered while the incoming one stays established', () => {
    const v = peerView({ fc: fc({ phase: 'None', reason: 'JoinDisabled' }, { phase: 'Established' }, false), request: acceptedRequest, now });
    expect(v.state).toBe('connected');
    expect(v.direction).toBe('incoming');
    expect(v.outgoingState).toMatchObject({ label: 'Outgoing · Not peered', tone: 'off', detail: 'You do not use its resources' });
    expect(v.incomingState.label).toBe('Incoming · Established');
  });

  it('keeps a peered cluster that stops answering under Connected, marked unreachable both ways, with what to do', () => {
    // What the controllers write when the peer's API server and agent stop: the virtual node goes
    // NotReady (its heartbeats stop) so the outgoing phase drops to Pending, and our Advertisement
    // writes to it fail so the incoming phase drops to Pending while the request stays Accepted.
    const v = peerView({
      fc: fc(
        { phase: 'Pending', reason: 'WaitingForVirtualNode', message: 'Advertisement received; waiting for virtual node' },
        { phase: 'Pending', reason: 'AdvertisementFailed', message: 'cannot write our Advertisement on https://198.51.100.7:6443: connect ECONNREFUSED' },
      ),
      node: node(false, 'no heartbeat from the peer'),
      advertisement: advertisement(75),
      request: acceptedRequest,
      now,
    });
    expect(v.state).toBe('connected');
    expect(v.direction).toBe('both');
    expect(v.outgoingState).toMatchObject({ label: 'Outgoing · Unreachable', tone: 'bad', detail: 'no heartbeat from it for 75 s (limit 30 s)' });
    expect(v.incomingState).toMatchObject({ label: 'Incoming · Unreachable', tone: 'bad' });
    expect(v.incomingState.detail).toContain('ECONNREFUSED');
    expect(v.unreachable?.message).toBe(`cluster-b does not answer: no heartbeat from it for 75 s (limit 30 s); cannot write our Advertisement on https://198.51.100.7:6443: connect ECONNREFUSED`);
    expect(v.unreachable?.todo).toMatch(/API server and kubepeer agent run.*Remove/);
    expect(v.health).toBe('down');
    expect(counts([v], [], []).connected).toBe(1);
    expect(counts([v], [], []).available).toBe(0);
  });

  it('marks an established outgoing peering unreachable when the heartbeats stop, before the phase changes', () => {
    const v = peerView({ fc: fc({ phase: 'Established' }, { phase: 'None' }), node: node(true), advertisement: advertisement(40), now });
    expect(v.state).toBe('connected');
    expect(v.outgoingState.label).toBe('Outgoing · Unreachable');
    expect(v.incomingState).toMatchObject({ label: 'Incoming · Not peered', tone: 'off' });
    expect(v.unreachable?.message).toContain('no heartbeat from it for 40 s');
  });

  it('marks an established peering unreachable when its API server stops answering our checks, heartbeats still fresh', () => {
    const v = peerView({
      fc: fc({ phase: 'Established', reason: 'PeerUnreachable' }, { phase: 'None' }, true, [
        { type: 'Reachable', status: 'False', reason: 'PeerUnreachable', message: 'cluster-b unreachable at https://198.51.100.7:6443: connect ETIMEDOUT; retrying with backoff', lastTransitionTime: secondsAgo(3) },
      ]),
      node: node(true),
      advertisement: advertisement(1),
      now,
    });
    expect(v.outgoingState).toMatchObject({ label: 'Outgoing · Unreachable', detail: 'cluster-b unreachable at https://198.51.100.7:6443: connect ETIMEDOUT; retrying with backoff' });
    expect(v.state).toBe('connected');
  });

  it('a first connection in progress is connecting, not unreachable, and a blocking condition shows on its direction', () => {
    const connecting = peerView({ fc: fc({ phase: 'Pending', reason: 'RequestSent', message: 'waiting for cluster-b' }, { phase: 'None' }), now });
    expect(connecting.state).toBe('connecting');
    expect(connecting.unreachable).toBeUndefined();
    expect(connecting.outgoingState).toMatchObject({ label: 'Outgoing · Pending', tone: 'progress' });

    const untrusted = peerView({
      fc: fc({ phase: 'Pending', reason: 'UntrustedCA' }, { phase: 'None' }, true, [
        { type: 'TrustEstablished', status: 'False', reason: 'UntrustedCA', message: 'the CA of https://198.51.100.7:6443 is not trusted: set allowUntrustedCA or pin it', lastTransitionTime: secondsAgo(5) },
      ]),
      now,
    });
    expect(untrusted.outgoingState).toMatchObject({ label: 'Outgoing · Pending', tone: 'bad', detail: 'the CA of https://198.51.100.7:6443 is not trusted: set allowUntrustedCA or pin it' });
  });

  it('an incoming request that waits for approval says so on its direction', () => {
    const v = peerView({ fc: fc({ phase: 'None' }, { phase: 'Pending', reason: 'WaitingForApproval', message: 'waiting for an administrator: kubepeer peer accept' }, false), now });
    expect(v.state).toBe('available');
    expect(v.incomingState).toMatchObject({ label: 'Incoming · Pending', tone: 'progress', detail: 'waiting for an administrator: kubepeer peer accept' });
  });
});

describe('the dashboard: removed and request-only peers', () => {
  it('shows a removed discovered peer as a record with what Connect and Forget do', () => {
    const record = {
      metadata: { name: 'lan-b', annotations: { 'discovery.kubepeer.io/removed': secondsAgo(60) } },
      spec: { clusterID: B, clusterName: 'cluster-b', discoveryType: 'LAN', join: false },
      status: { outgoing: { phase: 'None' }, incoming: { phase: 'None' } },
    } as unknown as ForeignCluster;
    const v = peerView({ fc: record, now });
    expect(v).toMatchObject({ state: 'available', listed: true, removedAt: secondsAgo(60) });
    expect(v.summary).toMatch(/^Removed by a person: discovery does not connect it again.*Forget/);
  });

  it('lists a peer known only by its accepted request to us (its ForeignCluster missing) under Connected', () => {
    const views = peerViews({ fcs: [], advertisements: [], nodes: [], requests: [{ ...acceptedRequest, spec: { clusterID: B, clusterName: 'cluster-b', apiUrl: 'https://198.51.100.7:6443' } } as unknown as PeeringRequest], domains: [] }, now);
    expect(views).toHaveLength(1);
    expect(views[0]).toMatchObject({ clusterID: B, state: 'connected', listed: true, direction: 'incoming' });
    expect(views[0]!.incomingState.label).toBe('Incoming · Established');
  });
});
