/**
 * The "+" next to Available Peers: Add domain (a SearchDomain) and Add remote peer (a Manual
 * ForeignCluster). Fields are checked as the person types (the same checks the server runs), and
 * the server's and the API server's own messages land under the field they are about.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { JSX } from 'preact';
import type { DomainView, PeerView } from '../../api.js';
import { checkApiUrl, checkClusterID, checkNewDomain, checkNewPeer } from '../../validation.js';
import { RequestError, api } from './client.js';
import { Globe, Link, X } from './icons.js';
import { useNotify } from './toasts.js';

export type AddTab = 'peer' | 'domain';

function Field(props: { id: string; label: string; hint?: JSX.Element | string; error?: string; required?: boolean; children: JSX.Element }) {
  return (
    <div class={`field ${props.error ? 'has-error' : ''}`}>
      <label for={props.id} class={props.required ? 'required' : undefined}>
        {props.label}
      </label>
      {props.children}
      {props.error ? (
        <p class="field-error" id={`${props.id}-error`} role="alert">
          {props.error}
        </p>
      ) : props.hint ? (
        <p class="field-hint">{props.hint}</p>
      ) : null}
    </div>
  );
}

function Toggle(props: { id: string; label: string; hint: string; checked: boolean; onChange(v: boolean): void }) {
  return (
    <div class="toggle-field">
      <input type="checkbox" id={props.id} checked={props.checked} onChange={(e) => props.onChange((e.currentTarget as HTMLInputElement).checked)} />
      <label for={props.id}>
        <span>{props.label}</span>
        <span class="field-hint">{props.hint}</span>
      </label>
    </div>
  );
}

function FormError({ message }: { message?: string }) {
  if (!message) return null;
  return (
    <div class="form-error" role="alert">
      {message}
    </div>
  );
}

/**
 * What both forms do on submit: check the values as the server will, show the field errors, send,
 * and put the server's own messages under the fields they are about.
 */
function useCheckedSubmit<T>(check: () => { value?: T; fields: Record<string, string> }, send: (value: T) => Promise<void>) {
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setFormError(undefined);
    const checked = check();
    if (!checked.value) {
      setErrors(checked.fields);
      setFormError('Please fix the fields marked below.');
      return;
    }
    setErrors({});
    setBusy(true);
    try {
      await send(checked.value);
    } catch (err) {
      if (err instanceof RequestError) {
        setErrors(err.fields);
        setFormError(err.message);
      } else setFormError(String(err));
    } finally {
      setBusy(false);
    }
  };
  return { errors, setErrors, formError, busy, submit };
}

function AddPeerForm({ onDone, onCancel }: { onDone(): void; onCancel(): void }) {
  const notify = useNotify();
  const [v, setV] = useState({ clusterID: '', apiUrl: '', name: '', namespace: 'liqo', allowUntrustedCA: true, join: true });
  const { errors, setErrors, formError, busy, submit } = useCheckedSubmit(
    () => checkNewPeer({ ...v, name: v.name || undefined }),
    async (value) => {
      const peer = await api<PeerView>('POST', '/api/peers', value);
      notify.success(`Peer ${peer.displayName} added`, v.join ? 'Connecting now: it moves to Connected Peers once the peer accepts.' : 'Connect it from Available Peers when you are ready.');
      onDone();
    },
  );
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);

  const set = (k: keyof typeof v) => (e: Event) => setV({ ...v, [k]: (e.currentTarget as HTMLInputElement).value });
  const blurCheck = (k: 'clusterID' | 'apiUrl') => () => {
    const value = v[k].trim();
    if (!value) return;
    const err = k === 'clusterID' ? checkClusterID(value) : checkApiUrl(value);
    setErrors((es) => {
      const next = { ...es };
      if (err) next[k] = err;
      else delete next[k];
      return next;
    });
  };

  return (
    <form class="form" onSubmit={submit} noValidate aria-label="Add remote peer">
      <p class="muted small">
        Peer with a cluster that is not on your LAN or in a DNS domain. Its administrator can give you both values: they are shown in its dashboard header, or by{' '}
        <code>kubectl get configmap -n liqo cluster-id -o jsonpath='&#123;.data.cluster-id&#125;'</code> and <code>kubectl config view -o jsonpath='&#123;.clusters[*].cluster.server&#125;'</code>.
      </p>
      <FormError message={formError} />
      <Field id="peer-cluster-id" label="Cluster ID" required error={errors.clusterID} hint="A UUID such as ff5aa14a-dd6e-4fd2-80fe-eaecb827cf55">
        <input
          ref={first}
          id="peer-cluster-id"
          name="clusterID"
          aria-required="true"
          class="mono"
          autocomplete="off"
          spellcheck={false}
          value={v.clusterID}
          onInput={set('clusterID')}
          onBlur={blurCheck('clusterID')}
          aria-invalid={!!errors.clusterID}
          aria-describedby={errors.clusterID ? 'peer-cluster-id-error' : undefined}
        />
      </Field>
      <Field id="peer-api-url" label="API server URL" required error={errors.apiUrl} hint="https://<address>:<port> of the remote Kubernetes API server">
        <input
          id="peer-api-url"
          name="apiUrl"
          aria-required="true"
          class="mono"
          type="url"
          autocomplete="off"
          spellcheck={false}
          placeholder="https://203.0.113.10:6443"
          value={v.apiUrl}
          onInput={set('apiUrl')}
          onBlur={blurCheck('apiUrl')}
          aria-invalid={!!errors.apiUrl}
          aria-describedby={errors.apiUrl ? 'peer-api-url-error' : undefined}
        />
      </Field>
      <div class="field-row">
        <Field id="peer-name" label="Name" error={errors.name} hint="A mnemonic name; default: the cluster ID">
          <input id="peer-name" name="name" autocomplete="off" spellcheck={false} value={v.name} onInput={set('name')} aria-invalid={!!errors.name} />
        </Field>
        <Field id="peer-namespace" label="Remote namespace" error={errors.namespace} hint="Where kubepeer runs on the peer">
          <input id="peer-namespace" name="namespace" autocomplete="off" spellcheck={false} value={v.namespace} onInput={set('namespace')} aria-invalid={!!errors.namespace} />
        </Field>
      </div>
      <Toggle
        id="peer-allow-untrusted"
        label="Allow untrusted CA"
        hint="Peer even if its API server certificate is not signed by a CA this cluster trusts: its CA is fetched and pinned on first use."
        checked={v.allowUntrustedCA}
        onChange={(x) => setV({ ...v, allowUntrustedCA: x })}
      />
      <Toggle id="peer-join" label="Join" hint="Start peering right away." checked={v.join} onChange={(x) => setV({ ...v, join: x })} />
      <div class="form-buttons">
        <button type="button" class="button ghost" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" class="button primary" disabled={busy}>
          {busy ? 'Adding…' : 'Add peer'}
        </button>
      </div>
    </form>
  );
}

function AddDomainForm({ onDone, onCancel }: { onDone(): void; onCancel(): void }) {
  const notify = useNotify();
  const [v, setV] = useState({ domain: '', name: '', join: false });
  const { errors, formError, busy, submit } = useCheckedSubmit(
    () => checkNewDomain({ ...v, name: v.name || undefined }),
    async (value) => {
      const d = await api<Pick<DomainView, 'name' | 'domain'>>('POST', '/api/domains', value);
      notify.success(`Domain ${d.domain} added`, 'Clusters it lists appear under Available Peers.');
      onDone();
    },
  );
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);

  return (
    <form class="form" onSubmit={submit} noValidate aria-label="Add domain">
      <p class="muted small">Discover the clusters a DNS domain publishes (PTR, SRV and TXT records, see kubepeer dns records).</p>
      <FormError message={formError} />
      <Field id="domain-domain" label="Domain" required error={errors.domain} hint="The domain where the clusters you want to peer with are published, e.g. example.com">
        <input
          ref={first}
          id="domain-domain"
          name="domain"
          aria-required="true"
          autocomplete="off"
          spellcheck={false}
          value={v.domain}
          onInput={(e) => setV({ ...v, domain: (e.currentTarget as HTMLInputElement).value })}
          aria-invalid={!!errors.domain}
        />
      </Field>
      <Field id="domain-name" label="Name" error={errors.name} hint="A mnemonic name for the domain; default: the domain">
        <input id="domain-name" name="name" autocomplete="off" spellcheck={false} value={v.name} onInput={(e) => setV({ ...v, name: (e.currentTarget as HTMLInputElement).value })} aria-invalid={!!errors.name} />
      </Field>
      <Toggle id="domain-join" label="Join" hint="Peer automatically with the clusters this domain lists." checked={v.join} onChange={(x) => setV({ ...v, join: x })} />
      <div class="form-buttons">
        <button type="button" class="button ghost" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" class="button primary" disabled={busy}>
          {busy ? 'Adding…' : 'Add domain'}
        </button>
      </div>
    </form>
  );
}

export function AddDialog({ tab, onTab, onClose, onDone }: { tab: AddTab; onTab(t: AddTab): void; onClose(): void; onDone(): void }) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && onClose();
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);
  return (
    <div class="overlay" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div class="modal" role="dialog" aria-modal="true" aria-labelledby="add-title">
        <header class="modal-head">
          <h2 id="add-title">{tab === 'peer' ? 'Add remote peer' : 'Add domain'}</h2>
          <button class="icon-button" aria-label="Close" onClick={onClose}>
            <X />
          </button>
        </header>
        <div class="tabs" role="tablist">
          <button role="tab" aria-selected={tab === 'domain'} class={`tab ${tab === 'domain' ? 'active' : ''}`} onClick={() => onTab('domain')}>
            <Globe size={16} /> Add domain
          </button>
          <button role="tab" aria-selected={tab === 'peer'} class={`tab ${tab === 'peer' ? 'active' : ''}`} onClick={() => onTab('peer')}>
            <Link size={16} /> Add remote peer
          </button>
        </div>
        {tab === 'peer' ? <AddPeerForm key="peer" onDone={onDone} onCancel={onClose} /> : <AddDomainForm key="domain" onDone={onDone} onCancel={onClose} />}
      </div>
    </div>
  );
}
