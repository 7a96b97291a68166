import { useEffect, useRef, useState } from 'react';

/**
 * The HTML report inline, as tall as its content: the report is same-origin and script-free, so
 * the page reads its height after it loads (and again when the frame's width changes it).
 */
export function ReportFrame({ src, title }: { src: string; title: string }) {
  const ref = useRef<HTMLIFrameElement>(null);
  const [height, setHeight] = useState<number | null>(null);

  const measure = () => {
    const doc = ref.current?.contentDocument;
    if (!doc?.documentElement) return;
    setHeight(Math.ceil(Math.max(doc.documentElement.scrollHeight, doc.body?.scrollHeight ?? 0)) + 2);
  };

  useEffect(() => {
    const frame = ref.current;
    if (!frame || typeof ResizeObserver === 'undefined') return;
    const o = new ResizeObserver(() => measure());
    o.observe(frame);
    return () => o.disconnect();
  }, []);

  return <iframe ref={ref} className="report" title={title} src={src} onLoad={measure} style={height ? { height: `${height}px` } : undefined} />;
}
