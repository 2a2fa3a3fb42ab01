import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

/** The first page of a visit keeps the browser's own focus (the skip link comes first); later ones take it. */
let firstPage = true;

/** A page's <h1>, focused when the user moves to the page (so keyboard and screen-reader users land on it). */
export function PageHeader({ title, children }: { title: string; children?: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (firstPage) {
      firstPage = false;
      return;
    }
    ref.current?.focus();
  }, [title]);
  return (
    <div class="page-header">
      <h1 ref={ref} tabIndex={-1}>
        {title}
      </h1>
      {children && <div class="page-actions">{children}</div>}
    </div>
  );
}
