/**
 * The knowledge documents added at run time are a record family of the
 * store (`src/store/repos/knowledge.ts` holds their SQL); the knowledge base
 * keeps its name for the repository it builds over the database it is given.
 */
export {
  type DocumentOrigin,
  KnowledgeDocumentRepository as KnowledgeDocumentStore,
  type StoredDocument,
} from '../store/repos/knowledge.ts';
