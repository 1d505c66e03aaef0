//! Batches as a worker applies them: several versions of one object in one batch, the whole
//! corpus in one batch, and batches delivered again.

mod mixed;
