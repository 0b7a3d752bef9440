//! A named thread that runs until told to stop: the handle that every part
//! starting a long-lived thread keeps, so that `close()` and drop join it.

use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::Error;

/// A thread and the channel that stops it: closing drops the sender, which
/// disconnects the receiver the thread waits on beside its own channels.
pub(crate) struct Stoppable {
    name: String,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Stoppable {
    /// Starts `body` on a thread named `name`. `body` gets the receiver
    /// that disconnects when the thread is to stop.
    pub(crate) fn spawn(
        name: &str,
        body: impl FnOnce(Receiver<()>) + Send + 'static,
    ) -> Result<Stoppable, Error> {
        let (stop, stopped) = bounded::<()>(0);
        let thread = thread::Builder::new()
            .name(name.into())
            .spawn(move || body(stopped))
            .map_err(|e| Error::Thread {
                name: name.into(),
                problem: format!("cannot start: {e}"),
            })?;
        Ok(Stoppable {
            name: name.into(),
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Tells the thread to stop and waits for it; an error only when it
    /// panicked (its message is already on stderr).
    pub(crate) fn close(&mut self) -> Result<(), Error> {
        self.stop.take();
        match self.thread.take() {
            Some(thread) => thread.join().map_err(|_| Error::Thread {
                name: self.name.clone(),
                problem: "panicked; see the message above".into(),
            }),
            None => Ok(()),
        }
    }
}

impl Drop for Stoppable {
    fn drop(&mut self) {
        let _ = self.close();
    }
}
