// The portal's small UI kit: every page builds on these (keyboard, labels, focus and contrast handled once).
export { Button, type ButtonProps } from './button';
export { Field, Checkbox, Select, type FieldProps, type CheckboxProps, type SelectProps } from './field';
export { Table, type Column, type TableProps } from './table';
export { Dialog, type DialogProps } from './dialog';
export { ErrorBanner, Notice, Loading } from './feedback';
export { useAsync, type AsyncState } from './use-async';
export { PageHeader } from './page-header';
