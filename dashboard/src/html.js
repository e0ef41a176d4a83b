// htm bound to Preact: JSX-like templates without a compiler. Values are always rendered as
// text or properties; nothing here ever parses a string as HTML.
import { h } from '../vendor/preact.js';
import htm from '../vendor/htm.js';

export const html = htm.bind(h);
