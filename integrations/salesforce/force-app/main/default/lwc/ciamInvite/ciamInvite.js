// "Invite to portal" on a Contact or a Lead: a headless quick action that queues
// the invitation (CiamInviteController.invite) and says so; ciam's answer lands on
// the record (Portal_Status__c, Portal_Invite_Error__c) within seconds.
import { LightningElement, api } from "lwc";
import { ShowToastEvent } from "lightning/platformShowToastEvent";
import invite from "@salesforce/apex/CiamInviteController.invite";

export default class CiamInvite extends LightningElement {
    @api recordId;

    @api async invoke() {
        try {
            await invite({ recordId: this.recordId });
            this.toast("Invitation on its way", "ciam emails the invitation; its status appears on the record.", "success");
        } catch (error) {
            const message = (error && error.body && error.body.message) || "The invitation could not be queued.";
            this.toast("Invitation not sent", message, "error");
        }
    }

    toast(title, message, variant) {
        this.dispatchEvent(new ShowToastEvent({ title, message, variant }));
    }
}
