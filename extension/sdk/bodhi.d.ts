// Types for window.bodhi, the API the Bodhi browser extension puts into every http(s) page.
//
// Use it with `/// <reference path="bodhi.d.ts" />`, or list it in tsconfig's "files", or
// `import type { Bodhi } from './bodhi.js'`. It declares `window.bodhi` (absent when the
// extension is not installed: see get-bodhi.d.ts) and exports every call's options, results,
// stream chunks, events and error codes. docs/extension.md describes the behaviour.

// ---------------------------------------------------------------------------------------
// Errors

/** Every code a BodhiError may carry. */
export type BodhiErrorCode =
  | 'access_denied'          // the user denied, or closed the consent window
  | 'not_granted'            // no grant for this origin (never asked, revoked, expired)
  | 'cooldown'               // refused recently: ask again after retry_after seconds
  | 'rate_limited'           // asked too often: ask again after retry_after seconds
  | 'user_gesture_required'  // a consent window needs a click (or key press) in the page
  | 'setup_cancelled'        // the user closed the first-run setup window
  | 'unreachable'            // the companion (or the extension) does not answer
  | 'not_paired'             // the extension is not paired with the companion yet
  | 'api_error'              // the companion refused: see status and body
  | 'timeout'                // no answer in time (the call's timeout, or a silent stream)
  | 'aborted'                // the caller's AbortSignal fired
  | 'bad_request'            // a malformed message between the extension's parts
  | 'not_installed';         // getBodhi() only: no extension answered in time

/** What every failure of window.bodhi rejects with (also `window.BodhiError`). */
export interface BodhiError extends Error {
  readonly name: 'BodhiError';
  readonly code: BodhiErrorCode;
  /** api_error: the companion's HTTP status. */
  readonly status?: number;
  /** api_error: the companion's error body, e.g. `{error: {message, type, code}}`. */
  readonly body?: unknown;
  /** cooldown, rate_limited: seconds to wait before asking again. */
  readonly retry_after?: number;
}

export interface BodhiErrorConstructor {
  new (code: BodhiErrorCode, message?: string,
    extra?: { status?: number; body?: unknown; retry_after?: number }): BodhiError;
  readonly prototype: BodhiError;
}

// ---------------------------------------------------------------------------------------
// Common options

export interface RequestOptions {
  /** Aborting stops the work on the companion too; the call rejects with `aborted`. */
  signal?: AbortSignal;
  /** Milliseconds; replaces the call's default (30 s; chat 10 min; embeddings, MCP 5 min). */
  timeout?: number;
}

/** Streams take a signal; a stream fails with `timeout` after 5 minutes without an event. */
export interface StreamOptions {
  signal?: AbortSignal;
}

/**
 * A stream of items: use `for await`. Breaking out of the loop stops the work on the
 * companion. A mid-stream failure rejects the loop with a BodhiError.
 */
export interface BodhiStream<T> extends AsyncIterableIterator<T> {
  next(): Promise<IteratorResult<T, undefined>>;
  return(): Promise<IteratorResult<T, undefined>>;
}

// ---------------------------------------------------------------------------------------
// State and access

export type ServerStatus = 'ready' | 'unreachable' | 'not-paired';

export interface ServerState {
  status: ServerStatus;
  /** The companion's version, when it answers. */
  version?: string;
  /** Where the extension looks for the companion. */
  url: string;
}

export type Scope = 'chat' | 'embeddings' | 'models' | 'mcp';

/** An MCP server a page asks for: by its URL, or by the name the companion registered. */
export type McpServerRef = { url: string; name?: never } | { name: string; url?: never };

export interface AccessRequest {
  scopes: Scope[];
  /** Models the page would like; the user may narrow them. Omitted: any of the user's. */
  models?: string[];
  /** With the `mcp` scope: the MCP servers wanted (at most 10). */
  mcps?: McpServerRef[];
  /** Shown to the user as the site's own words. */
  reason?: string;
}

export interface AccessGrant {
  granted: true;
  scopes: Scope[];
  /** The models allowed; null: all of the user's models. */
  models: string[] | null;
  /** Epoch seconds; null: until revoked. */
  expires_at: number | null;
}

export interface AppToken {
  /** A bearer token for the companion's API (CORS is open to origins with a grant). */
  access_token: string;
  /** Epoch seconds. */
  expires_at: number;
}

// ---------------------------------------------------------------------------------------
// Chat (OpenAI's chat completions shape)

export type ChatRole = 'system' | 'developer' | 'user' | 'assistant' | 'tool';

export type ContentPart =
  | { type: 'text'; text: string }
  | { type: 'image_url'; image_url: { url: string; detail?: 'auto' | 'low' | 'high' } };

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ChatMessage {
  role: ChatRole;
  content: string | ContentPart[] | null;
  name?: string;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
}

export interface FunctionTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: JsonSchema; strict?: boolean };
}

/** A JSON Schema object (kept open: any keyword of the draft the model server accepts). */
export type JsonSchema = { [keyword: string]: unknown };

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; json_schema: { name: string; schema: JsonSchema; strict?: boolean } };

export interface ChatRequest {
  messages: ChatMessage[];
  /** Omitted: the model the user chose for this site (or the grant's first). */
  model?: string;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  max_tokens?: number;
  max_completion_tokens?: number;
  temperature?: number;
  top_p?: number;
  /** llama.cpp's extension of the OpenAI request. */
  top_k?: number;
  n?: number;
  seed?: number;
  stop?: string | string[];
  presence_penalty?: number;
  frequency_penalty?: number;
  tools?: FunctionTool[];
  tool_choice?: 'auto' | 'none' | 'required';
  response_format?: ResponseFormat;
  user?: string;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | null;

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: {
    index: number;
    message: { role: 'assistant'; content: string | null; tool_calls?: ToolCall[] };
    finish_reason: FinishReason;
  }[];
  usage?: Usage;
}

/** One item of a streamed chat. */
export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: {
    index: number;
    delta: {
      role?: 'assistant';
      content?: string | null;
      tool_calls?: (Partial<ToolCall> & { index: number })[];
    };
    finish_reason: FinishReason;
  }[];
  usage?: Usage | null;
}

export interface ChatFunction {
  (params: ChatRequest & { stream: true }, options?: StreamOptions):
    Promise<BodhiStream<ChatCompletionChunk>>;
  (params: ChatRequest & { stream?: false }, options?: RequestOptions): Promise<ChatCompletion>;
  readonly completions: {
    /** The same call under OpenAI's name, so OpenAI-style code ports unchanged. */
    create(params: ChatRequest & { stream: true }, options?: StreamOptions):
      Promise<BodhiStream<ChatCompletionChunk>>;
    create(params: ChatRequest & { stream?: false }, options?: RequestOptions):
      Promise<ChatCompletion>;
  };
}

// ---------------------------------------------------------------------------------------
// Models and embeddings

export interface Model {
  id: string;
  object: 'model';
  created?: number;
  owned_by?: string;
}

export interface ModelList {
  object: 'list';
  data: Model[];
}

export interface EmbeddingRequest {
  input: string | string[];
  /** Omitted: as for chat. */
  model?: string;
  encoding_format?: 'float';
  dimensions?: number;
}

export interface EmbeddingResponse {
  object: 'list';
  model: string;
  data: { object: 'embedding'; index: number; embedding: number[] }[];
  usage?: { prompt_tokens: number; total_tokens: number };
}

// ---------------------------------------------------------------------------------------
// MCP

export interface McpInstance {
  id: string;
  name: string;
  slug: string;
  server: { name: string; kind: string; url: string | null };
}

export interface McpPageOptions extends RequestOptions {
  /** The `nextCursor` of the previous page. */
  cursor?: string;
}

export type McpContent =
  | { type: 'text'; text: string }
  | { type: 'image'; data: string; mimeType: string }
  | { type: 'audio'; data: string; mimeType: string }
  | { type: 'resource_link'; uri: string; name: string; mimeType?: string }
  | { type: 'resource'; resource: McpResourceContents };

export type McpResourceContents =
  | { uri: string; mimeType?: string; text: string }
  | { uri: string; mimeType?: string; blob: string };

export interface McpTool {
  name: string;
  title?: string;
  description?: string;
  inputSchema: JsonSchema;
  outputSchema?: JsonSchema;
}

export interface McpToolResult {
  content: McpContent[];
  structuredContent?: { [key: string]: unknown };
  /** A tool that failed answers isError: true (it does not reject). */
  isError?: boolean;
}

export interface McpResource { uri: string; name: string; description?: string; mimeType?: string }
export interface McpResourceTemplate {
  uriTemplate: string; name: string; description?: string; mimeType?: string;
}
export interface McpPrompt {
  name: string; description?: string;
  arguments?: { name: string; description?: string; required?: boolean }[];
}

/** A JSON-RPC 2.0 message, as an MCP SDK transport carries it. */
export type JsonRpcMessage = { jsonrpc: '2.0'; [key: string]: unknown };

/** The MCP TypeScript SDK's `Transport`: `await client.connect(bodhi.mcp.transport(id))`. */
export interface McpTransport {
  sessionId: string | undefined;
  onmessage: ((message: JsonRpcMessage) => void) | undefined;
  onerror: ((error: Error) => void) | undefined;
  onclose: (() => void) | undefined;
  start(): Promise<void>;
  send(message: JsonRpcMessage): Promise<void>;
  close(): Promise<void>;
  setProtocolVersion(version: string): void;
}

export interface BodhiMcp {
  /** The MCP connections (instances) the user granted this origin. */
  list(options?: RequestOptions): Promise<McpInstance[]>;
  listTools(id: string, options?: McpPageOptions):
    Promise<{ tools: McpTool[]; nextCursor?: string }>;
  callTool(id: string, name: string, args?: { [name: string]: unknown },
    options?: RequestOptions): Promise<McpToolResult>;
  listResources(id: string, options?: McpPageOptions):
    Promise<{ resources: McpResource[]; nextCursor?: string }>;
  listResourceTemplates(id: string, options?: McpPageOptions):
    Promise<{ resourceTemplates: McpResourceTemplate[]; nextCursor?: string }>;
  readResource(id: string, uri: string, options?: RequestOptions):
    Promise<{ contents: McpResourceContents[] }>;
  listPrompts(id: string, options?: McpPageOptions):
    Promise<{ prompts: McpPrompt[]; nextCursor?: string }>;
  getPrompt(id: string, name: string, args?: { [name: string]: string },
    options?: RequestOptions): Promise<{
      description?: string;
      messages: { role: 'user' | 'assistant'; content: McpContent }[];
    }>;
  transport(id: string): McpTransport;
}

// ---------------------------------------------------------------------------------------
// Events

export type GrantStatus = 'granted' | 'revoked' | 'expired';

export interface StateChangeDetail {
  state: ServerStatus;
}

export interface GrantChangeDetail {
  state: GrantStatus;
}

export interface ModelsChangeDetail {
  /** The models this origin may use now. */
  models: string[];
}

export interface BodhiEventMap {
  /** The companion became ready, unreachable, or not paired. */
  statechange: CustomEvent<StateChangeDetail>;
  /** This origin's grant was given, revoked, or expired (other origins are never told). */
  grantchange: CustomEvent<GrantChangeDetail>;
  /** The models this origin may use changed. */
  modelschange: CustomEvent<ModelsChangeDetail>;
}

export type BodhiEventType = keyof BodhiEventMap;

// ---------------------------------------------------------------------------------------
// The Prompt API (Chrome's LanguageModel shape), backed by the user's own models.
// Failures are DOMExceptions where Chrome names one (AbortError, InvalidStateError after
// destroy(), NotSupportedError, NotAllowedError when access is refused); the companion's own
// refusals stay BodhiErrors (not_granted after a revoke, api_error, ...).

/**
 * 'unavailable': no companion is ready, or the browser is not paired (or non-text inputs were
 * asked for); 'downloadable': this site has no grant yet, create() asks for it (from a click);
 * 'available': this site may chat.
 */
export type Availability = 'unavailable' | 'downloadable' | 'downloading' | 'available';

export type LanguageModelMessageRole = 'system' | 'user' | 'assistant';

/** Only text parts are supported. */
export interface LanguageModelMessageContent {
  type: 'text';
  value: string;
}

export interface LanguageModelMessage {
  /** Default 'user'. 'system' only as the first of initialPrompts. */
  role?: LanguageModelMessageRole;
  content: string | LanguageModelMessageContent[];
}

/** What prompt(), promptStreaming(), append() and measureInputUsage() take. */
export type LanguageModelPrompt = string | LanguageModelMessage[];

export interface LanguageModelExpected {
  type: 'text' | 'image' | 'audio';
  languages?: string[];
}

export interface LanguageModelCreateCoreOptions {
  /** Between 0 and maxTemperature; unset: the model alias's own setting. */
  temperature?: number;
  /** Unset: the model alias's own setting. */
  topK?: number;
  expectedInputs?: LanguageModelExpected[];
  expectedOutputs?: LanguageModelExpected[];
}

/** Receives `downloadprogress` (loaded 0, then 1 once access is granted and the model known). */
export interface CreateMonitor extends EventTarget {
  addEventListener(type: 'downloadprogress', listener: (event: ProgressEvent) => void,
    options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject,
    options?: boolean | AddEventListenerOptions): void;
}

export interface LanguageModelCreateOptions extends LanguageModelCreateCoreOptions {
  /** The conversation so far; a system message may only come first. */
  initialPrompts?: LanguageModelMessage[];
  signal?: AbortSignal;
  monitor?: (monitor: CreateMonitor) => void;
}

export interface LanguageModelPromptOptions {
  /** A JSON Schema the answer follows (sent as OpenAI's response_format json_schema). */
  responseConstraint?: JsonSchema;
  signal?: AbortSignal;
}

export interface LanguageModelAppendOptions {
  signal?: AbortSignal;
}

export interface LanguageModelCloneOptions {
  signal?: AbortSignal;
}

export interface LanguageModelParams {
  defaultTopK: number;
  maxTopK: number;
  defaultTemperature: number;
  maxTemperature: number;
}

/**
 * One conversation, on the model the user chose for this site. It keeps its history in the
 * page: each prompt sends the whole conversation; a failed or aborted one adds nothing.
 */
export interface LanguageModel extends EventTarget {
  prompt(input: LanguageModelPrompt, options?: LanguageModelPromptOptions): Promise<string>;
  /** The answer's text in pieces (deltas): `for await (const piece of stream)`. */
  promptStreaming(input: LanguageModelPrompt, options?: LanguageModelPromptOptions):
    ReadableStream<string>;
  /** Adds to the history without asking the model anything. */
  append(input: LanguageModelPrompt, options?: LanguageModelAppendOptions): Promise<void>;
  /** Tokens the input would add to this session's history. */
  measureInputUsage(input: LanguageModelPrompt): Promise<number>;
  /** The newer name of measureInputUsage. */
  measureContextUsage(input: LanguageModelPrompt): Promise<number>;
  /** Tokens the history takes so far (counted with the model's chat template). */
  readonly inputUsage: number;
  /** The most tokens the history may take: the model's context (Infinity for a remote one). */
  readonly inputQuota: number;
  /** The newer names of inputUsage and inputQuota. */
  readonly contextUsage: number;
  readonly contextWindow: number;
  readonly topK: number;
  readonly temperature: number;
  /** A new session with the same history and options; the two then go their own ways. */
  clone(options?: LanguageModelCloneOptions): Promise<LanguageModel>;
  /** Ends the session: calls in flight abort, later ones reject with InvalidStateError. */
  destroy(): void;
}

export interface LanguageModelStatic {
  availability(options?: LanguageModelCreateCoreOptions): Promise<Availability>;
  /** Asks for access (the `chat` scope) when this site has none yet: call it from a click. */
  create(options?: LanguageModelCreateOptions): Promise<LanguageModel>;
  params(): Promise<LanguageModelParams>;
  readonly prototype: LanguageModel;
}

// ---------------------------------------------------------------------------------------
// window.bodhi

export interface Bodhi {
  serverState(): Promise<ServerState>;
  /** Call it from a click: a consent window opens only for a user action in the page. */
  requestAccess(params?: AccessRequest): Promise<AccessGrant>;
  chat: ChatFunction;
  models: {
    /** The models this origin's grant allows (the `models` scope). */
    list(): Promise<ModelList>;
  };
  embeddings: {
    create(params: EmbeddingRequest, options?: RequestOptions): Promise<EmbeddingResponse>;
  };
  /** The app token, for calling the companion's API directly (15 minutes). */
  getToken(): Promise<AppToken>;
  /** Gives this origin's access back. */
  revoke(): Promise<{ revoked: boolean }>;
  mcp: BodhiMcp;
  LanguageModel: LanguageModelStatic;
  /** The first listener subscribes this page (or frame) to the extension's events. */
  addEventListener<K extends BodhiEventType>(type: K,
    listener: (event: BodhiEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends BodhiEventType>(type: K,
    listener: (event: BodhiEventMap[K]) => void, options?: boolean | EventListenerOptions): void;
  BodhiError: BodhiErrorConstructor;
}

/** The `detail` of the `bodhi:ready` event on window. */
export interface BodhiReadyDetail {
  version: number;
}

declare global {
  interface Window {
    /** Defined from the page's first script when the Bodhi extension is installed. */
    readonly bodhi?: Bodhi;
    readonly BodhiError?: BodhiErrorConstructor;
    /**
     * Chrome's own Prompt API, or Bodhi's when the user turned on that setting of the
     * extension (and the browser has none): check before use.
     */
    readonly LanguageModel?: LanguageModelStatic;
  }
  interface WindowEventMap {
    'bodhi:ready': CustomEvent<BodhiReadyDetail>;
  }
}
