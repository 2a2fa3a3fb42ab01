import type { ComponentChildren } from 'preact';
import { ApiError } from '../api';

/** An error from Graph, ARM or the browser, shown as the service said it: its code and message. */
export function ErrorBanner({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const api = error instanceof ApiError ? error : null;
  const message = error instanceof Error ? error.message : String(error);
  return (
    <div class="banner banner-error" role="alert">
      <strong>{title ?? (api ? `${api.service} refused the request (${api.status})` : 'Something went wrong')}</strong>
      {api && (
        <p>
          <code>{api.code}</code>
        </p>
      )}
      <p>{message}</p>
    </div>
  );
}

/** A success or information message, announced politely. */
export function Notice({ children }: { children: ComponentChildren }) {
  return (
    <div class="banner banner-ok" role="status">
      {children}
    </div>
  );
}

/** A busy indicator, announced to screen readers. */
export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" />
      {label}
    </p>
  );
}
