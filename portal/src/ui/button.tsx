import type { ButtonHTMLAttributes, ComponentChildren } from 'preact';

export type ButtonProps = Omit<ButtonHTMLAttributes<HTMLButtonElement>, 'class'> & {
  /** primary: the page's main action; danger: destructive; default: everything else. */
  variant?: 'primary' | 'danger' | 'default' | 'link';
  children: ComponentChildren;
};

/** A real <button> (keyboard: Tab to it, Enter or Space). type="button" unless told otherwise. */
export function Button({ variant = 'default', type = 'button', children, ...rest }: ButtonProps) {
  return (
    <button type={type} class={`btn btn-${variant}`} {...rest}>
      {children}
    </button>
  );
}
