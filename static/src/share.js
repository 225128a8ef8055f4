// share.js -- share links: the source and parameter values, compressed into the URL's fragment.
//
//   https://host/#s=<base64url(deflate-raw(JSON {source, parameters}))>
//
// The fragment never reaches the server, so a link works however long it is (within the browser's
// URL limit, about 2 MB in Chromium). Any client can build one: see docs/browser.md.

function toBase64Url(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

async function pipe(bytes, stream) {
  const out = new Blob([bytes]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(out).arrayBuffer());
}

// The fragment (without '#') that reopens this source with these parameter values.
export async function encodeShare({ source, parameters = {} }) {
  const json = new TextEncoder().encode(JSON.stringify({ source, parameters }));
  return `s=${toBase64Url(await pipe(json, new CompressionStream('deflate-raw')))}`;
}

// {source, parameters} from a location hash ('#s=...'), or null if it holds none.
// Also accepts '#source=<base64url UTF-8>' for hand-made links.
export async function decodeShare(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  try {
    if (params.has('s')) {
      const raw = await pipe(fromBase64Url(params.get('s')), new DecompressionStream('deflate-raw'));
      const state = JSON.parse(new TextDecoder().decode(raw));
      if (typeof state?.source !== 'string') return null;
      const parameters = state.parameters && typeof state.parameters === 'object' ? state.parameters : {};
      return { source: state.source, parameters };
    }
    if (params.has('source')) {
      return { source: new TextDecoder().decode(fromBase64Url(params.get('source'))), parameters: {} };
    }
  } catch (err) {
    console.warn(`scadserve: unreadable share link: ${err.message}`);
  }
  return null;
}
