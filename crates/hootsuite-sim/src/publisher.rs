//! Auto-publishing: SCHEDULED messages whose send time has come (by the simulator's clock)
//! become SENT, as Hootsuite would publish them.

use std::sync::Arc;

use crate::messages::MessageState;
use crate::state::Sim;

pub async fn run(sim: Arc<Sim>) {
    loop {
        let interval = sim.with_world(|w| w.config.auto_publish_interval);
        tokio::time::sleep(interval).await;
        let now = sim.clock.now();
        sim.with_world(|w| {
            if w.config.auto_publish {
                for id in w.messages.due(now) {
                    w.set_message_state(id, MessageState::Sent, now);
                }
            }
        });
    }
}
