import { useEffect, useState } from 'react';

/** `value`, once it has stopped changing for `ms`. Compared by JSON, so a
 *  fresh object with the same content does not restart the wait. */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  const text = JSON.stringify(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(JSON.parse(text) as T), ms);
    return () => clearTimeout(timer);
  }, [text, ms]);
  return settled;
}
