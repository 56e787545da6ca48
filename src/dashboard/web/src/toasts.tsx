/** Short messages in the corner: what an action did, or why it did not happen. */
import { createContext } from 'preact';
import { useCallback, useContext, useRef, useState } from 'preact/hooks';
import { RequestError } from './client.js';
import { Alert, Check, Lock, X } from './icons.js';

export type ToastKind = 'success' | 'error' | 'forbidden';
interface Toast {
  id: number;
  kind: ToastKind;
  title: string;
  message?: string;
  detail?: string;
}

export interface Notifier {
  success(title: string, message?: string): void;
  /** An action that failed: forbidden answers get their own look, so a read-only person knows why. */
  failure(title: string, err: unknown): void;
}

export const NotifyContext = createContext<Notifier>({ success() {}, failure() {} });
export const useNotify = () => useContext(NotifyContext);

export function useToasts(): { toasts: Toast[]; notifier: Notifier; dismiss(id: number): void } {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const next = useRef(1);
  const dismiss = useCallback((id: number) => setToasts((ts) => ts.filter((t) => t.id !== id)), []);
  const push = useCallback(
    (t: Omit<Toast, 'id'>, ms: number) => {
      const id = next.current++;
      setToasts((ts) => [...ts.slice(-4), { ...t, id }]);
      window.setTimeout(() => dismiss(id), ms);
    },
    [dismiss],
  );
  const notifier: Notifier = {
    success: (title, message) => push({ kind: 'success', title, message }, 4000),
    failure: (title, err) => {
      const e = err instanceof RequestError ? err : undefined;
      push({ kind: e?.forbidden ? 'forbidden' : 'error', title: e?.forbidden ? `${title}: forbidden` : title, message: e?.message ?? String((err as Error)?.message ?? err), detail: e?.detail }, 15000);
    },
  };
  return { toasts, notifier, dismiss };
}

export function Toasts({ toasts, dismiss }: { toasts: Toast[]; dismiss(id: number): void }) {
  return (
    <div class="toasts" aria-live="polite">
      {toasts.map((t) => (
        <div key={t.id} class={`toast toast-${t.kind}`} role={t.kind === 'success' ? 'status' : 'alert'}>
          <span class="toast-icon">{t.kind === 'success' ? <Check /> : t.kind === 'forbidden' ? <Lock /> : <Alert />}</span>
          <div class="toast-body">
            <strong>{t.title}</strong>
            {t.message && <p>{t.message}</p>}
            {t.detail && <p class="detail">{t.detail}</p>}
          </div>
          <button class="icon-button" aria-label="Dismiss" onClick={() => dismiss(t.id)}>
            <X size={16} />
          </button>
        </div>
      ))}
    </div>
  );
}
