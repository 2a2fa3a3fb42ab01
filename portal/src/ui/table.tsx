import type { ComponentChildren } from 'preact';

export interface Column<T> {
  /** The column header. */
  title: string;
  /** The cell's content. */
  cell: (row: T) => ComponentChildren;
}

export type TableProps<T> = {
  /** The table's accessible name (a caption, visually hidden unless `showCaption`). */
  caption: string;
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string;
  /** Shown in place of the rows when there are none. */
  empty?: string;
  showCaption?: boolean;
};

/** A data table with a caption and column headers; scrolls sideways on narrow screens. */
export function Table<T>({ caption, columns, rows, rowKey, empty = 'Nothing to show.', showCaption }: TableProps<T>) {
  return (
    <div class="table-wrap" role="region" aria-label={caption} tabIndex={0}>
      <table>
        <caption class={showCaption ? '' : 'sr-only'}>{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.title} scope="col">
                {c.title}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 ? (
            <tr>
              <td colSpan={columns.length}>{empty}</td>
            </tr>
          ) : (
            rows.map((r) => (
              <tr key={rowKey(r)}>
                {columns.map((c) => (
                  <td key={c.title}>{c.cell(r)}</td>
                ))}
              </tr>
            ))
          )}
        </tbody>
      </table>
    </div>
  );
}
