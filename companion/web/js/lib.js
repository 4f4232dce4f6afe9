// The UI's view library in one place: Preact with hooks, and htm's tagged templates (no build
// step). Pages import from here, never from vendor/ directly, so the vendored build can change
// in one line.
export {
  html, render, h, Component, createContext, useState, useReducer, useEffect, useLayoutEffect,
  useRef, useMemo, useCallback, useContext,
} from '../vendor/preact-htm.standalone.module.js';
