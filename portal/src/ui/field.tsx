import { useId } from 'preact/hooks';

export type FieldProps = {
  label: string;
  value: string;
  onValue: (value: string) => void;
  /** Shown under the input and tied to it with aria-describedby. */
  hint?: string;
  type?: 'text' | 'password' | 'email' | 'url' | 'search' | 'number';
  required?: boolean;
  disabled?: boolean;
  pattern?: string;
  placeholder?: string;
  autoComplete?: string;
  maxLength?: number;
  name?: string;
};

/** A labelled text input. */
export function Field({ label, value, onValue, hint, type = 'text', ...rest }: FieldProps) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        id={id}
        type={type as 'text'}
        value={value}
        onInput={(e) => onValue((e.currentTarget as HTMLInputElement).value)}
        aria-describedby={hint ? `${id}-hint` : undefined}
        {...rest}
      />
      {hint && (
        <small id={`${id}-hint`} class="hint">
          {hint}
        </small>
      )}
    </div>
  );
}

export type CheckboxProps = { label: string; checked: boolean; onChecked: (checked: boolean) => void; disabled?: boolean };

/** A labelled checkbox (Space toggles it). */
export function Checkbox({ label, checked, onChecked, disabled }: CheckboxProps) {
  const id = useId();
  return (
    <div class="field field-check">
      <input
        id={id}
        type="checkbox"
        checked={checked}
        disabled={disabled}
        onChange={(e) => onChecked((e.currentTarget as HTMLInputElement).checked)}
      />
      <label for={id}>{label}</label>
    </div>
  );
}

export type SelectProps = {
  label: string;
  value: string;
  onValue: (value: string) => void;
  options: { value: string; label: string }[];
  required?: boolean;
};

/** A labelled <select>. */
export function Select({ label, value, onValue, options, required }: SelectProps) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} required={required} onChange={(e) => onValue((e.currentTarget as HTMLSelectElement).value)}>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </div>
  );
}
