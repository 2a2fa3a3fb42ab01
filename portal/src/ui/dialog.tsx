import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef } from 'preact/hooks';

export type DialogProps = {
  title: string;
  open: boolean;
  onClose: () => void;
  children: ComponentChildren;
};

/**
 * A modal side panel (the Azure portal's blade): the native <dialog> with showModal(), so focus moves into
 * it, stays there, Escape closes it, and focus returns to what opened it.
 */
export function Dialog({ title, open, onClose, children }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useId();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} class="panel" aria-labelledby={`${id}-title`} onClose={onClose} onCancel={onClose}>
      <div class="panel-head">
        <h2 id={`${id}-title`}>{title}</h2>
        <button type="button" class="btn btn-default" onClick={onClose} aria-label={`Close ${title}`}>
          ✕
        </button>
      </div>
      <div class="panel-body">{open && children}</div>
    </dialog>
  );
}
