// The error shapes are Anthropic wire facts shared with the account pool: they live in src/anthropic/.
export * from '../anthropic/errors.js';
